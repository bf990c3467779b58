package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memstore"
)

func Example() {
	s := memstore.New(memstore.Options{MaxEntries: 10_000})
	defer s.Close()
	ctx := context.Background()

	// Keys are what the Manager derives from tokens: SHA-256 in hex.
	key := "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	expires := time.Now().Add(30 * time.Minute)

	v1, _ := s.Put(ctx, key, httpsession.Record{Data: []byte("cart=1"), Owner: "alice", Expires: expires})
	rec, _ := s.Get(ctx, key)
	fmt.Printf("%s, owned by %s\n", rec.Data, rec.Owner)

	// Put is a compare-and-set: the first writer holding v1 wins...
	_, err := s.Put(ctx, key, httpsession.Record{Data: []byte("cart=2"), Owner: "alice", Expires: expires, Version: v1})
	fmt.Println("first writer:", err)
	// ...and a second one holding v1 must reload and try again.
	_, err = s.Put(ctx, key, httpsession.Record{Data: []byte("cart=9"), Owner: "alice", Expires: expires, Version: v1})
	fmt.Println("second writer conflicts:", errors.Is(err, httpsession.ErrConflict))

	keys, _ := s.OwnerKeys(ctx, "alice")
	fmt.Println("alice's sessions:", len(keys))
	// Output:
	// cart=1, owned by alice
	// first writer: <nil>
	// second writer conflicts: true
	// alice's sessions: 1
}
