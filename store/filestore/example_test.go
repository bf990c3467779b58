//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package filestore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/filestore"
)

func Example() {
	base, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(base)

	// New creates the directory 0700; record files are 0600.
	s, err := filestore.New(filepath.Join(base, "sessions"), filestore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	// Keys are what the Manager derives from tokens: SHA-256 in hex.
	key := "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	expires := time.Now().Add(30 * time.Minute)

	v1, _ := s.Put(ctx, key, httpsession.Record{Data: []byte("cart=1"), Owner: "alice", Expires: expires})
	rec, _ := s.Get(ctx, key)
	fmt.Printf("%s, owned by %s\n", rec.Data, rec.Owner)

	// Put is a compare-and-set, across processes too: the first writer
	// holding v1 wins, a second one must reload and try again.
	_, err = s.Put(ctx, key, httpsession.Record{Data: []byte("cart=2"), Owner: "alice", Expires: expires, Version: v1})
	fmt.Println("first writer:", err)
	_, err = s.Put(ctx, key, httpsession.Record{Data: []byte("cart=9"), Owner: "alice", Expires: expires, Version: v1})
	fmt.Println("second writer conflicts:", errors.Is(err, httpsession.ErrConflict))

	// Anything but 64 lowercase hex characters never reaches the disk.
	_, err = s.Get(ctx, "../../etc/passwd")
	fmt.Println(err)

	// A janitor calls DeleteExpired now and then.
	n, _ := s.DeleteExpired(ctx, 1000)
	fmt.Println("expired records removed:", n)
	// Output:
	// cart=1, owned by alice
	// first writer: <nil>
	// second writer conflicts: true
	// filestore: invalid key: want 64 lowercase hex characters
	// expired records removed: 0
}
