package open

import (
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/redisstore"
)

// openRedisURL opens redis://, rediss:// and redis+cluster:// URLs.
func openRedisURL(scheme, rest, rawURL string) (httpsession.Store, func() error, error) {
	switch scheme {
	case "redis", "rediss":
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, nil, err
		}
		opts.ContextTimeoutEnabled = true
		// go-redis redials a dead server five times per command by
		// default, which holds every request of an outage for seconds;
		// one try fails fast into the error handler.
		opts.DialerRetries = 1
		return openRedis(redis.NewClient(opts))
	case "redis+cluster":
		user, hosts, err := splitHosts(rest)
		if err != nil {
			return nil, nil, err
		}
		opts := &redis.ClusterOptions{Addrs: hosts, ContextTimeoutEnabled: true, DialerRetries: 1}
		if user != nil {
			opts.Username = user.Username()
			opts.Password, _ = user.Password()
		}
		return openRedis(redis.NewClusterClient(opts))
	}
	return nil, nil, fmt.Errorf("unknown scheme %q", scheme)
}

func openRedis(c redis.UniversalClient) (httpsession.Store, func() error, error) {
	s, err := redisstore.New(c, redisstore.Options{})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return s, c.Close, nil
}
