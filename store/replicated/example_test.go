package replicated_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memstore"
	"github.com/httpsession/httpsession/store/replicated"
)

// A primary and a replica; the primary fails and the replica takes over
// with the same versions, so a writer that read before the failover still
// wins its compare-and-set. In production the members are memcached,
// Redis or SQL stores; here they are memstores, one behind a plug.
func Example() {
	first, replica := memstore.New(memstore.Options{}), memstore.New(memstore.Options{})
	defer first.Close()
	defer replica.Close()
	primary := &unpluggable{Store: first}
	s, err := replicated.New(primary, []httpsession.Store{replica}, replicated.Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), // failovers are logged
	})
	if err != nil {
		log.Fatal(err) // a member does not answer
	}

	ctx := context.Background()
	key := "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	expires := time.Now().Add(time.Hour)
	v1, _ := s.Put(ctx, key, httpsession.Record{Data: []byte("cart=1"), Expires: expires})

	primary.down = true
	rec, _ := s.Get(ctx, key)
	fmt.Printf("read after the failover: %s, same version: %t\n", rec.Data, rec.Version == v1)
	_, err = s.Put(ctx, key, httpsession.Record{Data: []byte("cart=2"), Expires: expires, Version: v1})
	fmt.Println("write with the version read before:", err)
	st := s.Status()
	fmt.Printf("writer: member %d, down: %v\n", st.Writer, st.Down)

	// A Manager uses it like any store.
	m, err := httpsession.New(httpsession.Config{Store: s})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	// Output:
	// read after the failover: cart=1, same version: true
	// write with the version read before: <nil>
	// writer: member 1, down: [0]
}

var errUnplugged = errors.New("connection refused")

// unpluggable is a store that fails while down is set.
type unpluggable struct {
	httpsession.Store
	down bool
}

func (u *unpluggable) Get(ctx context.Context, key string) (httpsession.Record, error) {
	if u.down {
		return httpsession.Record{}, errUnplugged
	}
	return u.Store.Get(ctx, key)
}

func (u *unpluggable) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	if u.down {
		return 0, errUnplugged
	}
	return u.Store.Put(ctx, key, rec)
}

func (u *unpluggable) Ping(context.Context) error {
	if u.down {
		return errUnplugged
	}
	return nil
}
