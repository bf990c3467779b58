package tiered

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
)

// countingStore counts the Gets that reach the store it wraps.
type countingStore struct {
	httpsession.Store
	gets atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) (httpsession.Record, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

// readsPerWrite is the read-heavy workload: one write of a session, then
// this many reads of it, all within MaxStale.
const readsPerWrite = 100

// BenchmarkReadHeavy measures one write and 100 reads of one session, and
// reports how many Gets reached the shared store per write-and-100-reads:
//
//	Direct:      the shared store alone (100 shared Gets).
//	Tiered:      a tiered store that wrote the session itself (0).
//	OtherWriter: the session is written by another instance, and each
//	             round starts MaxStale after the last (1).
func BenchmarkReadHeavy(b *testing.B) {
	b.Run("Memstore", func(b *testing.B) {
		benchReadHeavy(b, func(b *testing.B) httpsession.Store { return newMemstore(b) })
	})
	b.Run("Memcached", func(b *testing.B) {
		c := newMemcacheClient(b, testservice.Memcached(b))
		benchReadHeavy(b, func(b *testing.B) httpsession.Store { return newMemcachestore(b, c) })
	})
}

func benchReadHeavy(b *testing.B, newShared func(b *testing.B) httpsession.Store) {
	b.Run("Direct", func(b *testing.B) {
		shared := &countingStore{Store: newShared(b)}
		readHeavy(b, shared, shared, shared, func() {})
	})
	b.Run("Tiered", func(b *testing.B) {
		shared := &countingStore{Store: newShared(b)}
		s := newTiered(b, shared, Options{MaxStale: time.Hour})
		readHeavy(b, shared, s, s, func() {})
	})
	b.Run("OtherWriter", func(b *testing.B) {
		shared := &countingStore{Store: newShared(b)}
		clk := newClock()
		writer := newTiered(b, shared, Options{MaxStale: time.Second, Now: clk.Now})
		reader := newTiered(b, shared, Options{MaxStale: time.Second, Now: clk.Now})
		readHeavy(b, shared, writer, reader, func() { clk.Advance(time.Second) })
	})
}

// readHeavy runs b.N rounds of a write through writer and 100 reads
// through reader, calling nextRound before each round.
func readHeavy(b *testing.B, shared *countingStore, writer, reader httpsession.Store, nextRound func()) {
	ctx := context.Background()
	data := make([]byte, 512)
	expires := time.Now().Add(time.Hour)
	v, err := writer.Put(ctx, key, httpsession.Record{Data: data, Expires: expires})
	if err != nil {
		b.Fatal(err)
	}
	shared.gets.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		nextRound()
		if v, err = writer.Put(ctx, key, httpsession.Record{Data: data, Expires: expires, Version: v}); err != nil {
			b.Fatal(err)
		}
		for range readsPerWrite {
			rec, err := reader.Get(ctx, key)
			if err != nil {
				b.Fatal(err)
			}
			if rec.Version != v {
				b.Fatalf("read version %d after writing %d", rec.Version, v)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(shared.gets.Load())/float64(b.N), "shared-gets/op")
}
