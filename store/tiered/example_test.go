package tiered_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memstore"
	"github.com/httpsession/httpsession/store/tiered"
)

// Two instances of a program, each with a local cache in front of the
// store they share (a memstore here; memcached, Redis or SQL in
// production). A fake clock shows the staleness bound.
func Example() {
	shared := memstore.New(memstore.Options{})
	defer shared.Close()
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }

	a, err := tiered.New(shared, tiered.Options{MaxStale: time.Second, Now: clock})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	b, _ := tiered.New(shared, tiered.Options{MaxStale: time.Second, Now: clock})
	defer b.Close()

	ctx := context.Background()
	key := "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	expires := time.Now().Add(time.Hour)
	v1, _ := a.Put(ctx, key, httpsession.Record{Data: []byte("cart=1"), Expires: expires})
	rec, _ := b.Get(ctx, key)
	fmt.Printf("B reads %s\n", rec.Data)

	a.Put(ctx, key, httpsession.Record{Data: []byte("cart=2"), Expires: expires, Version: v1})
	rec, _ = a.Get(ctx, key)
	fmt.Printf("A reads its own write at once: %s\n", rec.Data)
	rec, _ = b.Get(ctx, key)
	fmt.Printf("B still reads %s\n", rec.Data)
	now = now.Add(time.Second) // MaxStale later
	rec, _ = b.Get(ctx, key)
	fmt.Printf("B reads %s\n", rec.Data)
	fmt.Printf("B: %+v\n", b.Stats())

	// The tiered store lists what the shared one holds.
	n := 0
	a.List(ctx, func(string, httpsession.Record) bool { n++; return true })
	fmt.Println("listed:", n)

	// A Manager uses it like any store.
	m, err := httpsession.New(httpsession.Config{Store: a})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	// Output:
	// B reads cart=1
	// A reads its own write at once: cart=2
	// B still reads cart=1
	// B reads cart=2
	// B: {LocalHits:1 SharedGets:2}
	// listed: 1
}
