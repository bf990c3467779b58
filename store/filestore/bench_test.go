//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package filestore

import (
	"context"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

const benchKeys = 256

// benchStore returns a store holding benchKeys records of 512 bytes.
func benchStore(b *testing.B) (*Store, []string, []uint64) {
	b.Helper()
	s := newStore(b, Options{})
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

// BenchmarkPut measures a durable write: temporary file, fsync, rename,
// directory fsync. The disk sets the pace.
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

func BenchmarkTouch(b *testing.B) {
	s, keys, _ := benchStore(b)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Touch(ctx, keys[i%benchKeys], exp); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
