package bench

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/httpsession/httpsession/store/redisstore"
)

// httpsessionRedisstore is httpsession on the Redis at BENCH_REDIS_ADDR,
// through a go-redis client with its default pool, as scsRedisstore uses.
var httpsessionRedisstore = adapter{
	name: "httpsession-redisstore",
	open: func(b *testing.B, w workload) lib {
		c := redisClient(b)
		s, err := redisstore.New(c, redisstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		return openHTTPSession(b, s, w)
	},
}

// redisClient returns a go-redis client of the benchmark server, closed
// when the benchmark ends.
func redisClient(b *testing.B) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: server(b, "BENCH_REDIS_ADDR", "Redis")})
	b.Cleanup(func() { c.Close() })
	return c
}
