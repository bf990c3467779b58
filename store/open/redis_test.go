package open_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/open"
)

func TestBadRedisURLs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for url, want := range map[string]string{
		"redis+sentinel://":                                    "no host",
		"redis+sentinel://127.0.0.1:1":                         "/MASTERNAME",
		"redis+sentinel://127.0.0.1:1/":                        "/MASTERNAME",
		"redis+sentinel://127.0.0.1:1/m/x":                     `database "x" is not a number`,
		"redis+sentinel://127.0.0.1:1/m/0/extra":               "/MASTERNAME",
		"redis+sentinel://127.0.0.1:1/m?db=2":                  `unknown parameter "db"`,
		"redis+sentinel://:s3cret@127.0.0.1:1,h/m":             "want HOST:PORT",
		"redis+cluster://127.0.0.1:1/2":                        "a cluster has no databases",
		"redis+cluster://127.0.0.1:1?prefx=a":                  `unknown parameter "prefx"`,
		"redis+cluster://127.0.0.1:1?sentinel_password=s3cret": `unknown parameter "sentinel_password"`,
		"redis+cluster://127.0.0.1:1?prefix=%zz":               "invalid URL escape",
		"redis://127.0.0.1:1/0?prefx=a":                        "prefx",
		"redis://:s3cret@127.0.0.1:1/0?prefix=a{b}":            "",
	} {
		s, closeFn, err := open.Open(ctx, url)
		if err == nil {
			closeFn()
			t.Errorf("Open(%q) succeeded", url)
			continue
		}
		if s != nil || closeFn != nil {
			t.Errorf("Open(%q): a failed Open returned a store", url)
		}
		if !strings.HasPrefix(err.Error(), "open: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q): error %q, want one containing %q", url, err, want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q): error %q shows the password", url, err)
		}
	}
}

// TestRedisURLs opens a store through each kind of Redis URL, with and
// without a prefix parameter, and checks where its keys land.
func TestRedisURLs(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		srv := testservice.Redis(t)
		c := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		c3 := redis.NewClient(&redis.Options{Addr: srv.Addr(), DB: 3})
		t.Cleanup(func() { c.Close(); c3.Close() })
		roundTrip(t, "redis://"+srv.Addr()+"/0")
		checkPrefix(t, c3, "redis://"+srv.Addr()+"/3?prefix=app1:", "app1:")
		checkPrefix(t, c, "redis://"+srv.Addr()+"?prefix=app2:", "app2:")
	})
	t.Run("redis+cluster", func(t *testing.T) {
		t.Parallel()
		cl := testservice.RedisCluster(t, 3)
		c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
		t.Cleanup(func() { c.Close() })
		checkPrefix(t, c, "redis+cluster://"+strings.Join(cl.Addrs(), ",")+"/?prefix=app1:", "app1:")
		checkPrefix(t, c, "redis+cluster://"+cl.Addrs()[1]+"?prefix=app2:", "app2:")
	})
	t.Run("redis+sentinel", func(t *testing.T) {
		t.Parallel()
		set := testservice.RedisSentinel(t)
		c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: set.MasterName(), SentinelAddrs: set.Addrs()})
		c2 := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: set.MasterName(), SentinelAddrs: set.Addrs(), DB: 2})
		t.Cleanup(func() { c.Close(); c2.Close() })
		roundTrip(t, set.URL())
		checkPrefix(t, c2, set.URL()+"/2?prefix=app1:", "app1:")
		checkPrefix(t, c, "redis+sentinel://"+set.Addrs()[2]+"/"+set.MasterName()+"?prefix=app2:", "app2:")

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, _, err := open.Open(ctx, "redis://"+set.Addrs()[0]); err == nil || !strings.Contains(err.Error(), "is a Redis Sentinel") {
			t.Errorf("Open of a redis:// URL naming a sentinel: %v, want an error saying it is a sentinel", err)
		}
		if _, _, err := open.Open(ctx, "redis+sentinel://"+set.Addrs()[0]+"/nosuchmaster"); err == nil {
			t.Errorf("Open with a master name the sentinels do not know succeeded")
		}
	})
	t.Run("redis+sentinel with a password", func(t *testing.T) {
		t.Parallel()
		const pw = "s3cret-sentinel"
		set := testservice.RedisSentinelWithPassword(t, pw)
		c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: set.MasterName(), SentinelAddrs: set.Addrs(), SentinelPassword: pw})
		t.Cleanup(func() { c.Close() })
		roundTrip(t, set.URL())
		checkPrefix(t, c, set.URL()+"&prefix=app3:", "app3:")

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		bare := "redis+sentinel://" + strings.Join(set.Addrs(), ",") + "/" + set.MasterName()
		for url, want := range map[string]string{
			bare:                                 "NOAUTH",
			bare + "?sentinel_password=wrong-pw": "WRONGPASS",
		} {
			_, _, err := open.Open(ctx, url)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Open(%q) = %v, want an error saying %s", url, err, want)
			}
			if err != nil && strings.Contains(err.Error(), "wrong-pw") {
				t.Errorf("Open(%q): the error %q shows the password", url, err)
			}
		}
	})
}

// checkPrefix opens url, writes a session through it and checks that its
// key, read through c, starts with prefix.
func checkPrefix(t *testing.T, c redis.UniversalClient, url, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, closeFn, err := open.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	key := httpsession.StoreKey("prefix-token-" + url)
	if _, err := s.Put(ctx, key, httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n := c.Exists(ctx, prefix+key).Val(); n != 1 {
		t.Errorf("%s: no key %s…", url, (prefix + key)[:20])
	}
}
