package open_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/open"
)

// The key prefix comes from the URL: two programs on one memcached keep
// apart with prefixes of their own.
func TestMemcachePrefix(t *testing.T) {
	srv := testservice.Memcached(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	prefix := "app-" + strings.ReplaceAll(t.Name(), "/", "-") + time.Now().Format("150405.000000") + ":"
	a, closeA, err := open.Open(ctx, "memcache://"+srv.Addr()+"?prefix="+prefix)
	if err != nil {
		t.Fatal(err)
	}
	defer closeA()
	b, closeB, err := open.Open(ctx, "memcache://"+srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer closeB()
	key := httpsession.StoreKey("token-of-" + t.Name())
	if _, err := a.Put(ctx, key, httpsession.Record{Data: []byte("a"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := memcache.New(srv.Addr()).Get(prefix + key); err != nil {
		t.Fatalf("no item under the URL's prefix %q: %v", prefix, err)
	}
	if _, err := b.Get(ctx, key); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("a store with the default prefix reads the other's session: %v", err)
	}
}

// A pool opens while one of its servers is down, and serves the sessions
// of the server that answers; those of the other are ErrUnavailable.
func TestMemcachePoolWithDeadServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	live := testservice.Memcached(t).Addr()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, closeFn, err := open.Open(ctx, "memcache://"+live+","+dead+"?prefix=pool-test:")
	if err != nil {
		t.Fatalf("a pool with one server down: %v", err)
	}
	defer closeFn()
	var servers memcache.ServerList
	if err := servers.SetServers(live, dead); err != nil {
		t.Fatal(err)
	}
	seen := map[bool]bool{}
	for i := 0; i < 100 && len(seen) < 2; i++ {
		key := httpsession.StoreKey(fmt.Sprintf("token-%d-of-%s", i, t.Name()))
		addr, err := servers.PickServer("pool-test:" + key)
		if err != nil {
			t.Fatal(err)
		}
		onLive := addr.String() == live
		seen[onLive] = true
		_, err = s.Put(ctx, key, httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
		if onLive && err != nil || !onLive && !errors.Is(err, httpsession.ErrUnavailable) {
			t.Fatalf("Put of a key on the %s server: %v", map[bool]string{true: "live", false: "dead"}[onLive], err)
		}
	}
	if len(seen) < 2 {
		t.Fatal("100 keys all on one server")
	}
}

func TestMemcacheBadQuery(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for url, want := range map[string]string{
		"memcache://127.0.0.1:1?bogus=1":      "unknown parameter",
		"memcache://127.0.0.1:1?prefix=":      "non-empty",
		"memcache://127.0.0.1:1?timeout=soon": "positive duration",
		"memcache://127.0.0.1:1?timeout=-1s":  "positive duration",
		"memcache://127.0.0.1:1?prefix=a%20b": "Prefix",
		"memcache://127.0.0.1:1?prefix=%zz":   "query",
	} {
		s, _, err := open.Open(ctx, url)
		if err == nil || s != nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q) = %v, %v; want an error containing %q", url, s, err, want)
		}
	}
}
