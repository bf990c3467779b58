package bench

import (
	"testing"

	"github.com/alexedwards/scs/goredisstore"
)

// scsRedisstore is scs on the Redis at BENCH_REDIS_ADDR through
// scs/goredisstore, the scs author's store on go-redis: the same client
// and pool as httpsessionRedisstore. (scs/redisstore, on redigo, is not
// available from the module proxy here.)
var scsRedisstore = adapter{
	name: "scs-redisstore",
	open: func(b *testing.B, w workload) lib {
		return openSCS(b, goredisstore.New(redisClient(b)), w)
	},
}
