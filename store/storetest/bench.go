package storetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

// BenchOptions tune Bench for a store.
type BenchOptions struct {
	// WriteParallelism is the number of goroutines per GOMAXPROCS that
	// PutParallel runs (see testing.B.SetParallelism); 0 means 1. A store
	// that folds concurrent writes into one commit, as boltstore does, sets
	// it higher to show that.
	WriteParallelism int
}

// Bench records: benchKeys of them, with benchSize bytes of data, the size
// of a modest session, expiring an hour after the store is filled.
const (
	benchKeys = 1024
	benchSize = 512
)

// Bench runs the benchmarks every store shares against the stores that
// newStore returns. Each sub-benchmark reports allocations:
//
//	Get          Get of one of 1,024 records of 512 bytes, in turn
//	GetParallel  the same from GOMAXPROCS goroutines
//	Put          a compare-and-set update of one of those records, in turn
//	PutParallel  the same from many goroutines, each on keys of its own so
//	             that every Put wins its compare-and-set
//	Touch        Touch of one of the records, if the store is a Toucher
//
// Keys are 64 lowercase hex characters, as the Manager's are. A store's
// bench_test.go calls it with a function that returns a fresh, empty
// store, and adds only the benchmarks that are special to that store:
//
//	func BenchmarkStore(b *testing.B) {
//		storetest.Bench(b, func(b *testing.B) httpsession.Store {
//			s := memstore.New(memstore.Options{})
//			b.Cleanup(func() { s.Close() })
//			return s
//		}, storetest.BenchOptions{})
//	}
//
// newStore is called with the sub-benchmark's b, once for each run of it,
// so it can register cleanup with b.Cleanup; filling the store is not
// timed. Stores on one shared server need only be empty, for example by
// using a prefix or table of their own.
func Bench(b *testing.B, newStore func(b *testing.B) httpsession.Store, opts BenchOptions) {
	b.Helper()
	ctx := context.Background()
	data := make([]byte, benchSize)
	b.Run("Get", func(b *testing.B) {
		s := newStore(b)
		keys, _ := fill(b, s)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.Get(ctx, keys[i%benchKeys]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("GetParallel", func(b *testing.B) {
		s := newStore(b)
		keys, _ := fill(b, s)
		b.ReportAllocs()
		b.ResetTimer() // RunParallel, unlike b.Loop, would time the setup
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := s.Get(ctx, keys[i%benchKeys]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("Put", func(b *testing.B) {
		s := newStore(b)
		keys, versions := fill(b, s)
		exp := time.Now().Add(time.Hour)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := i % benchKeys
			v, err := s.Put(ctx, keys[k], httpsession.Record{Data: data, Expires: exp, Version: versions[k]})
			if err != nil {
				b.Fatal(err)
			}
			versions[k] = v
			i++
		}
	})
	b.Run("PutParallel", func(b *testing.B) {
		s := newStore(b)
		exp := time.Now().Add(time.Hour)
		var worker atomic.Int64
		if opts.WriteParallelism > 0 {
			b.SetParallelism(opts.WriteParallelism)
		}
		b.ReportAllocs()
		b.ResetTimer() // RunParallel, unlike b.Loop, would time the setup
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine updates its own keys, so every Put wins its
			// compare-and-set and the benchmark measures the store, not
			// retries.
			w := worker.Add(1)
			keys := make([]string, 64)
			versions := make([]uint64, len(keys))
			for i := range keys {
				keys[i] = fmt.Sprintf("%032x%032x", w, i)
			}
			i := 0
			for pb.Next() {
				k := i % len(keys)
				v, err := s.Put(ctx, keys[k], httpsession.Record{Data: data, Expires: exp, Version: versions[k]})
				if err != nil {
					b.Error(err)
					return
				}
				versions[k] = v
				i++
			}
		})
	})
	b.Run("Touch", func(b *testing.B) {
		s := newStore(b)
		t, ok := s.(httpsession.Toucher)
		if !ok || !offers[httpsession.Toucher](s) {
			b.Skipf("%T does not implement httpsession.Toucher", s)
		}
		keys, _ := fill(b, s)
		exp := time.Now().Add(time.Hour)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := t.Touch(ctx, keys[i%benchKeys], exp); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// fill puts benchKeys records of benchSize bytes in s and returns their
// keys and versions.
func fill(b *testing.B, s httpsession.Store) ([]string, []uint64) {
	b.Helper()
	keys := make([]string, benchKeys)
	versions := make([]uint64, benchKeys)
	data := make([]byte, benchSize)
	exp := time.Now().Add(time.Hour)
	for i := range keys {
		keys[i] = fmt.Sprintf("%064x", i)
		v, err := s.Put(context.Background(), keys[i], httpsession.Record{Data: data, Expires: exp})
		if err != nil {
			b.Fatal(err)
		}
		versions[i] = v
	}
	return keys, versions
}
