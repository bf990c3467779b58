package redisstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/storetest"
)

const (
	benchKeys = 1024
	benchSize = 512
)

// benchStore returns a store on a private server holding benchKeys
// sessions of benchSize bytes, owned by owner ("" for none), with their
// versions.
func benchStore(b *testing.B, owner string) (*Store, []string, []uint64) {
	b.Helper()
	client := newClient(b, testservice.Redis(b).Addr())
	s, err := New(client, Options{})
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, benchKeys)
	versions := make([]uint64, benchKeys)
	data := make([]byte, benchSize)
	exp := time.Now().Add(time.Hour)
	for i := range keys {
		keys[i] = fmt.Sprintf("%064x", i)
		v, err := s.Put(context.Background(), keys[i], httpsession.Record{Data: data, Owner: owner, Expires: exp})
		if err != nil {
			b.Fatal(err)
		}
		versions[i] = v
	}
	return s, keys, versions
}

// BenchmarkStore runs the shared benchmarks on one private server, each
// store under a prefix of its own.
func BenchmarkStore(b *testing.B) {
	client := newClient(b, testservice.Redis(b).Addr())
	storetest.Bench(b, func(b *testing.B) httpsession.Store {
		return newStore(b, client, Options{})
	}, storetest.BenchOptions{})
}

// BenchmarkPutOwned is storetest's Put on records with an owner, which
// adds the owner index step: a second round trip.
func BenchmarkPutOwned(b *testing.B) {
	const owner = "user-42"
	s, keys, versions := benchStore(b, owner)
	ctx := context.Background()
	data := make([]byte, benchSize)
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % benchKeys
		v, err := s.Put(ctx, keys[k], httpsession.Record{Data: data, Owner: owner, Expires: exp, Version: versions[k]})
		if err != nil {
			b.Fatal(err)
		}
		versions[k] = v
		i++
	}
}

// rawClient returns a client of a private server holding benchKeys plain
// strings of benchSize bytes, for the floor benchmarks.
func rawClient(b *testing.B) (*redis.Client, []string) {
	b.Helper()
	client := newClient(b, testservice.Redis(b).Addr())
	keys := make([]string, benchKeys)
	data := make([]byte, benchSize)
	for i := range keys {
		keys[i] = fmt.Sprintf("raw:%064x", i)
		if err := client.Set(context.Background(), keys[i], data, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
	}
	return client, keys
}

// BenchmarkRawGET is the floor for Get: one plain GET of the same size.
func BenchmarkRawGET(b *testing.B) {
	client, keys := rawClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := client.Get(ctx, keys[i%benchKeys]).Err(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRawSET is the floor for Put: one plain SET with an expiry, no
// compare-and-set.
func BenchmarkRawSET(b *testing.B) {
	client, keys := rawClient(b)
	ctx := context.Background()
	data := make([]byte, benchSize)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := client.Set(ctx, keys[i%benchKeys], data, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
