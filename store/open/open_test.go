package open_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/open"
)

func TestBadURLs(t *testing.T) {
	cases := map[string]string{
		"":                                       "not a store URL",
		"nothing":                                "not a store URL",
		"ftp://x":                                "unknown scheme",
		"mem:extra":                              "takes no path",
		"file:":                                  "needs a directory",
		"bolt:":                                  "needs a file path",
		"sqlite:":                                "needs a file path",
		"memcache://":                            "no host",
		"memcache://h1:11211,h2":                 "want HOST:PORT",
		"redis+cluster://h1:1,:2":                "want HOST:PORT",
		"mysql:root@tcp(127.0.0.1:1)/x":          "want mysql://",
		"redis://127.0.0.1:notaport":             "",
		"mysql://root:s3cret@tcp(127.0.0.1:1)/x": "",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for url, want := range cases {
		t.Run(url, func(t *testing.T) {
			s, closeFn, err := open.Open(ctx, url)
			if err == nil {
				closeFn()
				t.Fatalf("Open(%q) succeeded", url)
			}
			if s != nil || closeFn != nil {
				t.Fatal("a failed Open returned a store")
			}
			if !strings.HasPrefix(err.Error(), "open: ") || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q, want one containing %q", err, want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

// roundTrip checks that a store from Open works.
func roundTrip(t *testing.T, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, closeFn, err := open.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := closeFn(); err != nil {
			t.Error(err)
		}
	}()
	key := httpsession.StoreKey("some-token-for-" + t.Name())
	rec := httpsession.Record{Data: []byte{0, 1, 2, 255}, Expires: time.Now().Add(time.Hour), Owner: "ann"}
	if _, err := s.Put(ctx, key, rec); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, key)
	if err != nil || string(got.Data) != string(rec.Data) || got.Owner != "ann" {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	if err := s.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, key); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("after Delete: %v", err)
	}
}

func TestEmbedded(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{
		"mem:",
		"file:" + filepath.Join(dir, "sessions"),
		"bolt:" + filepath.Join(dir, "sessions.db"),
		"sqlite:" + filepath.Join(dir, "sessions.sqlite"),
	} {
		t.Run(strings.SplitN(url, ":", 2)[0], func(t *testing.T) { roundTrip(t, url) })
	}
}

func TestServers(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		roundTrip(t, "redis://"+testservice.Redis(t).Addr()+"/0")
	})
	t.Run("redis+cluster", func(t *testing.T) {
		roundTrip(t, "redis+cluster://"+strings.Join(testservice.RedisCluster(t, 3).Addrs(), ","))
	})
	t.Run("memcache pool", func(t *testing.T) {
		a, b := testservice.Memcached(t), testservice.Memcached(t)
		roundTrip(t, "memcache://"+a.Addr()+","+b.Addr())
	})
	t.Run("postgres", func(t *testing.T) {
		roundTrip(t, testservice.Postgres(t).DSN())
	})
	t.Run("mysql", func(t *testing.T) {
		roundTrip(t, "mysql://"+testservice.MariaDB(t).DSN())
	})
}

func TestDeadServerFailsAtOpen(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, url := range []string{"redis://127.0.0.1:1", "memcache://127.0.0.1:1", "postgres://x@127.0.0.1:1/db?connect_timeout=2"} {
		if _, _, err := open.Open(ctx, url); err == nil {
			t.Errorf("Open(%q) succeeded with no server", url)
		}
	}
}
