package open

import (
	"github.com/redis/go-redis/v9"

	"github.com/httpsession/httpsession/internal/testlog"
)

// go-redis logs to stderr by default ("connection pool: failed to dial"),
// which tests that stop servers on purpose provoke: send its lines to t.Log
// of the tests that started a server (testservice attaches them).
func init() { redis.SetLogger(testlog.Redis) }
