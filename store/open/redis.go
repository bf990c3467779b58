package open

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/redisstore"
)

// clusterReloadInterval is how often a cluster client reloads its slot map
// when it is in use. go-redis's default is 60 s, and it reloads sooner on
// a MOVED reply but not when a master stops answering; redisstore asks for
// a reload on such errors, and this bounds how stale the map gets if a
// failover shows itself some other way.
const clusterReloadInterval = 2 * time.Second

// openRedisURL opens redis://, rediss://, redis+cluster:// and
// redis+sentinel:// URLs.
func openRedisURL(scheme, rest, rawURL string) (httpsession.Store, func() error, error) {
	switch scheme {
	case "redis", "rediss":
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, nil, err
		}
		q := u.Query()
		prefix := q.Get("prefix")
		q.Del("prefix")
		u.RawQuery = q.Encode()
		opts, err := redis.ParseURL(u.String())
		if err != nil {
			return nil, nil, err
		}
		opts.ContextTimeoutEnabled = true
		// go-redis redials a dead server five times per command by
		// default, which holds every request of an outage for seconds;
		// one try fails fast into the error handler.
		opts.DialerRetries = 1
		return openRedis(redis.NewClient(opts), prefix)
	case "redis+cluster":
		user, hosts, err := splitHosts(rest)
		if err != nil {
			return nil, nil, err
		}
		path, q, err := redisPathQuery(rest)
		if err != nil {
			return nil, nil, err
		}
		if path != "" && path != "/" {
			return nil, nil, fmt.Errorf("a cluster has no databases: want redis+cluster://HOST:PORT[,HOST:PORT...][?prefix=P], not the path %q", path)
		}
		opts := &redis.ClusterOptions{
			Addrs:                      hosts,
			ContextTimeoutEnabled:      true,
			DialerRetries:              1,
			ClusterStateReloadInterval: clusterReloadInterval,
		}
		if user != nil {
			opts.Username = user.Username()
			opts.Password, _ = user.Password()
		}
		return openRedis(redis.NewClusterClient(opts), q.Get("prefix"))
	case "redis+sentinel":
		user, hosts, err := splitHosts(rest)
		if err != nil {
			return nil, nil, err
		}
		path, q, err := redisPathQuery(rest, "sentinel_username", "sentinel_password")
		if err != nil {
			return nil, nil, err
		}
		master, db, err := sentinelPath(path)
		if err != nil {
			return nil, nil, err
		}
		opts := &redis.FailoverOptions{
			MasterName:            master,
			SentinelAddrs:         hosts,
			DB:                    db,
			ContextTimeoutEnabled: true,
			DialerRetries:         1,
			SentinelUsername:      q.Get("sentinel_username"),
			SentinelPassword:      q.Get("sentinel_password"),
		}
		if user != nil {
			opts.Username = user.Username()
			opts.Password, _ = user.Password()
		}
		return openRedis(redis.NewFailoverClient(opts), q.Get("prefix"))
	}
	return nil, nil, fmt.Errorf("unknown scheme %q", scheme)
}

// redisPathQuery returns the path of "//HOSTS/PATH?QUERY" and its query,
// which may name prefix and the parameters in more, and nothing else.
func redisPathQuery(rest string, more ...string) (path string, q url.Values, err error) {
	rest, _, _ = strings.Cut(strings.TrimPrefix(rest, "//"), "#")
	rest, rawQuery, _ := strings.Cut(rest, "?")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		path = rest[i:]
	}
	q, err = url.ParseQuery(rawQuery)
	if err != nil {
		return "", nil, err
	}
	known := append([]string{"prefix"}, more...)
	for name := range q {
		if !slices.Contains(known, name) {
			return "", nil, fmt.Errorf("unknown parameter %q (want %s)", name, strings.Join(known, ", "))
		}
	}
	return path, q, nil
}

// sentinelPath parses "/MASTERNAME[/DB]".
func sentinelPath(path string) (master string, db int, err error) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	if parts[0] == "" || len(parts) > 2 {
		return "", 0, fmt.Errorf("want redis+sentinel://HOST:PORT[,HOST:PORT...]/MASTERNAME[/DB]")
	}
	if len(parts) == 2 {
		db, err = strconv.Atoi(parts[1])
		if err != nil || db < 0 {
			return "", 0, fmt.Errorf("database %q is not a number", parts[1])
		}
	}
	return parts[0], db, nil
}

func openRedis(c redis.UniversalClient, prefix string) (httpsession.Store, func() error, error) {
	s, err := redisstore.New(c, redisstore.Options{Prefix: prefix})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return s, c.Close, nil
}
