package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
)

func Example() {
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// One process per file: a second Open of it fails after Timeout.
	s, err := boltstore.Open(filepath.Join(dir, "sessions.db"), boltstore.Options{Timeout: time.Second})
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

	// Put is a compare-and-set in a transaction: the first writer holding
	// v1 wins, a second one must reload and try again.
	_, err = s.Put(ctx, key, httpsession.Record{Data: []byte("cart=2"), Owner: "alice", Expires: expires, Version: v1})
	fmt.Println("first writer:", err)
	_, err = s.Put(ctx, key, httpsession.Record{Data: []byte("cart=9"), Owner: "alice", Expires: expires, Version: v1})
	fmt.Println("second writer conflicts:", errors.Is(err, httpsession.ErrConflict))

	keys, _ := s.OwnerKeys(ctx, "alice")
	fmt.Println("alice's sessions:", len(keys))

	// A janitor calls DeleteExpired now and then; it reads only the
	// expired entries of the expiry index.
	n, _ := s.DeleteExpired(ctx, 1000)
	fmt.Println("expired records removed:", n)
	// Output:
	// cart=1, owned by alice
	// first writer: <nil>
	// second writer conflicts: true
	// alice's sessions: 1
	// expired records removed: 0
}
