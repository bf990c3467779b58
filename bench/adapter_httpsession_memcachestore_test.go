package bench

import (
	"testing"

	"github.com/httpsession/httpsession/store/memcachestore"
)

// httpsessionMemcachestore is httpsession on the memcached at
// BENCH_MEMCACHE_ADDR.
var httpsessionMemcachestore = adapter{
	name: "httpsession-memcachestore",
	open: func(b *testing.B, w workload) lib {
		s, err := memcachestore.NewServers(server(b, "BENCH_MEMCACHE_ADDR", "memcached"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return openHTTPSession(b, s, w)
	},
}
