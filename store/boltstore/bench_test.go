package boltstore

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

const benchKeys = 1024

// benchStore returns a store holding benchKeys records of 512 bytes.
func benchStore(b *testing.B) (*Store, []string, []uint64) {
	b.Helper()
	s := openStore(b, Options{})
	keys := make([]string, benchKeys)
	versions := make([]uint64, benchKeys)
	data := make([]byte, 512)
	exp := time.Now().Add(time.Hour)
	for i := range keys {
		keys[i] = key(i)
		v, err := s.Put(context.Background(), keys[i], httpsession.Record{Data: data, Expires: exp})
		if err != nil {
			b.Fatal(err)
		}
		versions[i] = v
	}
	return s, keys, versions
}

func BenchmarkGet(b *testing.B) {
	s, keys, _ := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Get(ctx, keys[i%benchKeys]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkGetParallel(b *testing.B) {
	s, keys, _ := benchStore(b)
	ctx := context.Background()
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
}

// BenchmarkPut measures one writer: a commit, with its two fsyncs, per Put.
func BenchmarkPut(b *testing.B) {
	s, keys, versions := benchStore(b)
	ctx := context.Background()
	data := make([]byte, 512)
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
}

// BenchmarkPutParallel measures 8 writers per CPU, which share commits.
func BenchmarkPutParallel(b *testing.B) {
	s := openStore(b, Options{})
	ctx := context.Background()
	data := make([]byte, 512)
	exp := time.Now().Add(time.Hour)
	var worker atomic.Int64
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer() // RunParallel, unlike b.Loop, would time the setup
	b.RunParallel(func(pb *testing.PB) {
		// Each goroutine updates its own keys, so every Put wins its
		// compare-and-set and the benchmark measures the store, not retries.
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
}
