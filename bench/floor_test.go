package bench

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
)

// floorValue stands for a small encoded session, the size of W2's and
// W3's.
var floorValue = bytes.Repeat([]byte("s"), 128)

// BenchmarkFloor times each server's raw client round trips, with no
// session library: one read (the floor of W2) and one read plus one write
// (the floor of W3), with the same client as the store uses. Names are
// Floor/store=S/op=O.
func BenchmarkFloor(b *testing.B) {
	ctx := context.Background()
	b.Run("store=redis", func(b *testing.B) {
		c := redisClient(b)
		const key = "bench:floor"
		if err := c.Set(ctx, key, floorValue, time.Hour).Err(); err != nil {
			b.Fatal(err)
		}
		floor(b, "get", func() error { return c.Get(ctx, key).Err() })
		floor(b, "get+set", func() error {
			if err := c.Get(ctx, key).Err(); err != nil {
				return err
			}
			return c.Set(ctx, key, floorValue, time.Hour).Err()
		})
	})
	b.Run("store=memcache", func(b *testing.B) {
		c := memcache.New(server(b, "BENCH_MEMCACHE_ADDR", "memcached"))
		c.MaxIdleConns = 64 // as memcachestore.NewServers
		b.Cleanup(func() { c.Close() })
		item := &memcache.Item{Key: "bench:floor", Value: floorValue, Expiration: 3600}
		if err := c.Set(item); err != nil {
			b.Fatal(err)
		}
		floor(b, "get", func() error {
			_, err := c.Get(item.Key)
			return err
		})
		floor(b, "get+set", func() error {
			if _, err := c.Get(item.Key); err != nil {
				return err
			}
			return c.Set(item)
		})
	})
	b.Run("store=postgres", func(b *testing.B) {
		db := postgresDB(b)
		const schema = `CREATE TABLE IF NOT EXISTS bench_floor (
			key text PRIMARY KEY, data bytea NOT NULL, expires timestamptz NOT NULL, version bigint NOT NULL)`
		if _, err := db.Exec(schema); err != nil {
			b.Fatal(err)
		}
		const key = "floor"
		if _, err := db.Exec(`INSERT INTO bench_floor VALUES ($1, $2, now() + interval '1 hour', 1)
			ON CONFLICT (key) DO NOTHING`, key, floorValue); err != nil {
			b.Fatal(err)
		}
		var data []byte
		var expires time.Time
		var version int64
		read := func() error {
			return db.QueryRowContext(ctx, `SELECT data, expires, version FROM bench_floor WHERE key = $1`, key).
				Scan(&data, &expires, &version)
		}
		floor(b, "select", read)
		floor(b, "select+update", func() error {
			if err := read(); err != nil {
				return err
			}
			_, err := db.ExecContext(ctx, `UPDATE bench_floor SET data = $2, expires = $3, version = version + 1 WHERE key = $1`,
				key, floorValue, time.Now().Add(time.Hour))
			return err
		})
	})
}

func floor(b *testing.B, op string, fn func() error) {
	b.Run("op="+op, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := fn(); err != nil {
				b.Fatal(err)
			}
		}
	})
}
