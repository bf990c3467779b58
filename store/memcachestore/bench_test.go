package memcachestore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/storetest"
)

// The benchmarks run against a private memcached on loopback, with 512
// bytes of data per record, as memstore's do. BenchmarkRaw is the floor:
// gomemcache alone, on items of the same size.

const benchKeys = 1024

type bench struct {
	s        *Store
	c        *memcache.Client
	keys     []string
	versions []uint64
	owners   []string
	data     []byte
	exp      time.Time
}

// newBench stores benchKeys records; with owned, every four of them have
// an owner in common.
func newBench(b *testing.B, owned bool) *bench {
	b.Helper()
	return newBenchOptions(b, owned, Options{})
}

func newBenchOptions(b *testing.B, owned bool, opts Options) *bench {
	b.Helper()
	c := newClient(b, testservice.Memcached(b).Addrs()...)
	bn := &bench{
		s:        newStore(b, c, opts),
		c:        c,
		keys:     make([]string, benchKeys),
		versions: make([]uint64, benchKeys),
		owners:   make([]string, benchKeys),
		data:     make([]byte, 512),
		exp:      time.Now().Add(time.Hour),
	}
	for i := range bn.keys {
		bn.keys[i] = fmt.Sprintf("%064x", i)
		bn.owners[i] = ""
		if owned {
			bn.owners[i] = fmt.Sprintf("user-%d", i/4)
		}
		v, err := bn.s.Put(context.Background(), bn.keys[i], httpsession.Record{Data: bn.data, Owner: bn.owners[i], Expires: bn.exp})
		if err != nil {
			b.Fatal(err)
		}
		bn.versions[i] = v
	}
	return bn
}

// BenchmarkStore runs the shared benchmarks on one private server, each
// store under a prefix of its own. Get is a gets; Put a gets and a cas.
func BenchmarkStore(b *testing.B) {
	c := newClient(b, testservice.Memcached(b).Addrs()...)
	storetest.Bench(b, func(b *testing.B) httpsession.Store {
		return newStore(b, c, Options{})
	}, storetest.BenchOptions{})
}

// BenchmarkPutOwned is storetest's Put on records that have an owner (four
// records per owner), which adds a read of the owner's index.
func BenchmarkPutOwned(b *testing.B) {
	bn := newBench(b, true)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % benchKeys
		v, err := bn.s.Put(ctx, bn.keys[k], httpsession.Record{Data: bn.data, Owner: bn.owners[k], Expires: bn.exp, Version: bn.versions[k]})
		if err != nil {
			b.Fatal(err)
		}
		bn.versions[k] = v
		i++
	}
}

// BenchmarkGetPut is the Manager's W3 request, a returning visitor who
// changes their session: a Get, then a Put of the version read, a get and
// a cas. Compare it with Raw/GetSet, the floor of two round trips. NoCache
// turns the CAS cache off: a get, a gets and a cas.
func BenchmarkGetPut(b *testing.B) {
	b.Run("Cache", func(b *testing.B) { benchmarkGetPut(b, Options{}) })
	b.Run("NoCache", func(b *testing.B) { benchmarkGetPut(b, Options{CASCacheSize: -1}) })
}

func benchmarkGetPut(b *testing.B, opts Options) {
	bn := newBenchOptions(b, false, opts)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := bn.keys[i%benchKeys]
		rec, err := bn.s.Get(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		rec.Data = bn.data
		if _, err := bn.s.Put(ctx, k, rec); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRaw is gomemcache on its own: the floor under Get (one gets)
// and Put (a gets and a cas; GetSet for comparison with a plain set).
func BenchmarkRaw(b *testing.B) {
	bn := newBench(b, false)
	mkeys := make([]string, benchKeys)
	for i, k := range bn.keys {
		mkeys[i] = bn.s.prefix + k
	}
	b.Run("Get", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := bn.c.Get(mkeys[i%benchKeys]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	for _, w := range []struct {
		name  string
		write func(*memcache.Item) error
	}{
		{"GetSet", bn.c.Set},
		{"GetCAS", bn.c.CompareAndSwap},
	} {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				it, err := bn.c.Get(mkeys[i%benchKeys])
				if err != nil {
					b.Fatal(err)
				}
				if err := w.write(it); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
