package e2e

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testlog"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/memcachestore"
	"github.com/httpsession/httpsession/store/open"
)

// storeCase names a store URL made for one test.
type storeCase struct {
	name string
	url  func(t *testing.T) string
}

// allStores lists every store, each with a private server or file.
func allStores() []storeCase {
	return []storeCase{
		{"mem", func(*testing.T) string { return "mem:" }},
		{"file", func(t *testing.T) string { return "file:" + filepath.Join(t.TempDir(), "s") }},
		{"bolt", func(t *testing.T) string { return "bolt:" + filepath.Join(t.TempDir(), "s.db") }},
		{"sqlite", func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "s.sqlite") }},
		{"redis", func(t *testing.T) string { return "redis://" + testservice.Redis(t).Addr() }},
		{"redis-cluster", func(t *testing.T) string {
			return "redis+cluster://" + strings.Join(testservice.RedisCluster(t, 3).Addrs(), ",")
		}},
		{"memcache", func(t *testing.T) string { return "memcache://" + testservice.Memcached(t).Addr() }},
		{"memcache-pool", func(t *testing.T) string {
			addrs := []string{testservice.Memcached(t).Addr(), testservice.Memcached(t).Addr(), testservice.Memcached(t).Addr()}
			return "memcache://" + strings.Join(addrs, ",")
		}},
		{"postgres", func(t *testing.T) string { return testservice.Postgres(t).DSN() }},
		{"mariadb", func(t *testing.T) string { return "mysql://" + testservice.MariaDB(t).DSN() }},
	}
}

// openStore opens the store of url and closes it when the test ends.
func openStore(t *testing.T, url string) httpsession.Store {
	t.Helper()
	if hosts, ok := strings.CutPrefix(url, "memcache://"); ok {
		return openMemcache(t, strings.Split(hosts, ","))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, closeFn, err := open.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeFn() })
	return s
}

// newManager returns a Manager on s that Close stops when the test ends.
func newManager(t *testing.T, cfg httpsession.Config) *httpsession.Manager {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testlog.New(t) // the reason of a 5xx, shown when the test fails
	}
	m, err := httpsession.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

// openMemcache is the store memcache://H1,H2 opens, but with a client
// timeout of 10 s instead of gomemcache's 500 ms: 70 requests at once on a
// loaded 2-core machine with the race detector made dials time out, and
// these tests are about concurrent saves, not timeouts.
func openMemcache(t *testing.T, addrs []string) httpsession.Store {
	t.Helper()
	c := memcache.New(addrs...)
	c.Timeout = 10 * time.Second
	c.MaxIdleConns = 100
	s, err := memcachestore.New(c, memcachestore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
