package memcachestore

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
)

// counters are the memcached stats that count the store's round trips.
var counters = []string{"cmd_get", "get_hits", "get_misses", "cmd_set", "cas_hits", "cas_misses", "cas_badval", "cmd_touch", "delete_hits", "delete_misses"}

// stats reads counters from memcached at addr with a raw "stats" exchange.
func stats(t *testing.T, addr string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, l := range command(t, addr, "stats", func(l string) bool { return l == "END" }) {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == "STAT" && slices.Contains(counters, f[1]) {
			n, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatal(err)
			}
			m[f[1]] = n
		}
	}
	for _, name := range counters {
		if _, ok := m[name]; !ok {
			t.Fatalf("no stat %s", name)
		}
	}
	return m
}

// roundTrips counts what the server at addr does while fn runs: the
// counters that changed, and by how much.
func roundTrips(t *testing.T, addr string, fn func()) map[string]int {
	t.Helper()
	before := stats(t, addr)
	fn()
	after := stats(t, addr)
	d := map[string]int{}
	for _, name := range counters {
		if n := after[name] - before[name]; n != 0 {
			d[name] = n
		}
	}
	return d
}

func wantTrips(t *testing.T, what string, got map[string]int, want map[string]int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: the server counted %v, want %v", what, got, want)
	}
}

// privateServer starts a private memcached and a store on it; tests that
// count the server's commands skip external servers, which others share.
func privateServer(t *testing.T, opts Options) (*testservice.Server, *Store) {
	t.Helper()
	srv := testservice.Memcached(t)
	if srv.External() {
		t.Skip("counts the commands of a private server")
	}
	return srv, newStore(t, newClient(t, srv.Addr()), opts)
}

func mustGet(t *testing.T, s *Store, k string) httpsession.Record {
	t.Helper()
	rec, err := s.Get(t.Context(), k)
	if err != nil {
		t.Fatalf("Get(%.8s…): %v", k, err)
	}
	return rec
}

// The Manager's W3 request, Get and then Put of the version read, costs
// one get and one cas: the floor of a get and a set.
func TestGetPutRoundTrips(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	t.Run("Cached", func(t *testing.T) {
		srv, s := privateServer(t, Options{})
		k := key("w3")
		v := mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Expires: exp})
		for i := range 5 {
			got := roundTrips(t, srv.Addr(), func() {
				rec := mustGet(t, s, k)
				if rec.Version != v {
					t.Fatalf("Get: version %d, want %d", rec.Version, v)
				}
				rec.Data = strconv.AppendInt(nil, int64(i+1), 10)
				v = mustPut(t, s, k, rec)
			})
			wantTrips(t, fmt.Sprintf("request %d", i), got, map[string]int{"cmd_get": 1, "get_hits": 1, "cmd_set": 1, "cas_hits": 1})
		}
		if rec := mustGet(t, s, k); string(rec.Data) != "5" || rec.Version != v {
			t.Fatalf("Get = %q version %d, want \"5\" version %d", rec.Data, rec.Version, v)
		}
	})
	t.Run("Off", func(t *testing.T) {
		srv, s := privateServer(t, Options{CASCacheSize: -1})
		if s.cas != nil {
			t.Fatal("CASCacheSize -1: the cache is on")
		}
		k := key("w3")
		v := mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Expires: exp})
		got := roundTrips(t, srv.Addr(), func() {
			rec := mustGet(t, s, k)
			rec.Data = []byte("1")
			mustPut(t, s, k, rec)
		})
		wantTrips(t, "without the cache", got, map[string]int{"cmd_get": 2, "get_hits": 2, "cmd_set": 1, "cas_hits": 1})
		if rec := mustGet(t, s, k); string(rec.Data) != "1" || rec.Version == v {
			t.Fatalf("Get = %q version %d, want \"1\" and a version other than %d", rec.Data, rec.Version, v)
		}
	})
	t.Run("Owned", func(t *testing.T) {
		// With an owner whose index already holds the key, one get more:
		// the index.
		srv, s := privateServer(t, Options{})
		k := key("owned")
		mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Owner: "u1", Expires: exp})
		got := roundTrips(t, srv.Addr(), func() {
			rec := mustGet(t, s, k)
			rec.Data = []byte("1")
			mustPut(t, s, k, rec)
		})
		wantTrips(t, "owned", got, map[string]int{"cmd_get": 2, "get_hits": 2, "cmd_set": 1, "cas_hits": 1})
		wantOwnerKeys(t, s, "u1", k)
	})
	t.Run("PutWithoutGet", func(t *testing.T) {
		// A Put of a version this store did not Get reads the item.
		srv, s := privateServer(t, Options{})
		k := key("blind")
		v := mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Expires: exp})
		got := roundTrips(t, srv.Addr(), func() {
			mustPut(t, s, k, httpsession.Record{Data: []byte("1"), Expires: exp, Version: v})
		})
		wantTrips(t, "Put without Get", got, map[string]int{"cmd_get": 1, "get_hits": 1, "cmd_set": 1, "cas_hits": 1})
	})
	t.Run("Stale", func(t *testing.T) {
		// A CAS id older than casMaxAge is not used.
		srv, s := privateServer(t, Options{})
		k := key("stale")
		mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Expires: exp})
		rec := mustGet(t, s, k)
		e, ok := s.cas.take(k)
		if !ok {
			t.Fatal("Get left no CAS id")
		}
		e.at = e.at.Add(-casMaxAge)
		s.cas.put(k, e)
		got := roundTrips(t, srv.Addr(), func() { mustPut(t, s, k, rec) })
		wantTrips(t, "Put with a stale CAS id", got, map[string]int{"cmd_get": 1, "get_hits": 1, "cmd_set": 1, "cas_hits": 1})
	})
}

// A Touch between Get and Put changes the item's CAS id but not the
// record's version: the Put still succeeds, through gets and cas.
func TestTouchBetweenGetAndPut(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	srv, s := privateServer(t, Options{})
	// Another store on the same items, as another instance of the
	// application would be: its Touch leaves s's CAS id behind.
	other := newStore(t, newClient(t, srv.Addr()), Options{Prefix: s.prefix})
	ctx := t.Context()

	t.Run("OtherStore", func(t *testing.T) {
		k := key("touched elsewhere")
		mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Owner: "u1", Expires: exp})
		rec := mustGet(t, s, k)
		later := time.Now().Add(2 * time.Hour)
		if err := other.Touch(ctx, k, later); err != nil {
			t.Fatalf("Touch: %v", err)
		}
		rec.Data = []byte("1")
		var v uint64
		got := roundTrips(t, srv.Addr(), func() { v = mustPut(t, s, k, rec) })
		// The cas with Get's CAS id, refused; the index; gets; cas.
		wantTrips(t, "Put after a Touch", got, map[string]int{"cmd_get": 2, "get_hits": 2, "cmd_set": 2, "cas_badval": 1, "cas_hits": 1})
		after := mustGet(t, other, k)
		if string(after.Data) != "1" || after.Version != v || after.Version == rec.Version || after.Expires.Sub(exp).Abs() > time.Millisecond {
			t.Fatalf("Get = %q version %d expires %v; want \"1\" version %d expires %v", after.Data, after.Version, after.Expires, v, exp)
		}
		wantOwnerKeys(t, s, "u1", k)
	})
	t.Run("SameStore", func(t *testing.T) {
		// The store's own Touch drops the CAS id: no cas is refused.
		k := key("touched here")
		mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Expires: exp})
		rec := mustGet(t, s, k)
		if err := s.Touch(ctx, k, time.Now().Add(2*time.Hour)); err != nil {
			t.Fatalf("Touch: %v", err)
		}
		rec.Data = []byte("1")
		got := roundTrips(t, srv.Addr(), func() { mustPut(t, s, k, rec) })
		wantTrips(t, "Put after the store's Touch", got, map[string]int{"cmd_get": 1, "get_hits": 1, "cmd_set": 1, "cas_hits": 1})
	})
	t.Run("MemcachedTouch", func(t *testing.T) {
		// memcached's own touch keeps the CAS id: one cas.
		k := key("touched by memcached")
		mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Expires: exp})
		rec := mustGet(t, s, k)
		if err := s.client.Touch(s.prefix+k, 7200); err != nil {
			t.Fatalf("memcached touch: %v", err)
		}
		rec.Data = []byte("1")
		got := roundTrips(t, srv.Addr(), func() { mustPut(t, s, k, rec) })
		wantTrips(t, "Put after memcached's touch", got, map[string]int{"cmd_set": 1, "cas_hits": 1})
		if after := mustGet(t, s, k); string(after.Data) != "1" {
			t.Fatalf("Get = %q, want \"1\"", after.Data)
		}
	})
}

// A writer between Get and Put wins: the Put is a conflict, and the
// writer's record stays.
func TestWriterBetweenGetAndPut(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	srv, s := privateServer(t, Options{})
	other := newStore(t, newClient(t, srv.Addr()), Options{Prefix: s.prefix})
	ctx := t.Context()

	check := func(t *testing.T, k string, rec httpsession.Record, want httpsession.Record, trips map[string]int) {
		t.Helper()
		rec.Data, rec.Owner = []byte("loser"), "u2"
		var err error
		got := roundTrips(t, srv.Addr(), func() { _, err = s.Put(ctx, k, rec) })
		wantErr(t, "Put after another writer", err, httpsession.ErrConflict)
		wantTrips(t, "Put after another writer", got, trips)
		for _, st := range []*Store{s, other} {
			after := mustGet(t, st, k)
			if string(after.Data) != string(want.Data) || after.Version != want.Version || after.Owner != want.Owner {
				t.Fatalf("Get = %q version %d owner %q; want %q version %d owner %q", after.Data, after.Version, after.Owner, want.Data, want.Version, want.Owner)
			}
		}
		wantOwnerKeys(t, s, want.Owner, k)
	}
	t.Run("OtherStore", func(t *testing.T) {
		k := key("written elsewhere")
		mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Owner: "u1", Expires: exp})
		rec := mustGet(t, s, k)
		want := mustGet(t, other, k)
		want.Data = []byte("winner")
		want.Version = mustPut(t, other, k, want)
		// The cas with Get's CAS id, refused (the index is written
		// first); gets, and the version inside decides.
		check(t, k, rec, want, map[string]int{"cmd_get": 2, "get_hits": 1, "get_misses": 1, "cmd_set": 2, "cas_badval": 1})
	})
	t.Run("SameStore", func(t *testing.T) {
		// Two requests of one store read the same version: the first Put
		// takes the CAS id, the second reads the item.
		k := key("written here")
		mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Owner: "u3", Expires: exp})
		first := mustGet(t, s, k)
		second := mustGet(t, s, k)
		want := first
		want.Data = []byte("winner")
		want.Version = mustPut(t, s, k, want)
		check(t, k, second, want, map[string]int{"cmd_get": 1, "get_hits": 1})
	})
	t.Run("Deleted", func(t *testing.T) {
		k := key("deleted elsewhere")
		v := mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Expires: exp})
		rec := mustGet(t, s, k)
		if err := other.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		_, err := s.Put(ctx, k, rec)
		wantErr(t, "Put after Delete", err, httpsession.ErrConflict)
		// Created again with version 0: a new item, a new CAS id.
		if w := mustPut(t, other, k, httpsession.Record{Data: []byte("new"), Expires: exp}); w == v {
			t.Fatalf("the record created again has version %d again", w)
		}
		rec = mustGet(t, s, k)
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		_, err = s.Put(ctx, k, rec)
		wantErr(t, "Put after the store's Delete", err, httpsession.ErrConflict)
		if _, err := s.Get(ctx, k); !errors.Is(err, httpsession.ErrNotFound) {
			t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
		}
	})
}

// The fast path moves the key between owners' indexes as the slow one
// does.
func TestCachedPutChangesOwner(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	srv, s := privateServer(t, Options{})
	k := key("owner change")
	mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Owner: "u1", Expires: exp})
	rec := mustGet(t, s, k)
	rec.Owner = "u2"
	got := roundTrips(t, srv.Addr(), func() { mustPut(t, s, k, rec) })
	// u2's index: a get (miss) and an add; the session's cas; u1's index:
	// gets and cas.
	wantTrips(t, "owner change", got, map[string]int{"cmd_get": 2, "get_hits": 1, "get_misses": 1, "cmd_set": 3, "cas_hits": 2})
	wantOwnerKeys(t, s, "u1")
	wantOwnerKeys(t, s, "u2", k)

	// A Put that ends the record takes it out of the index.
	rec = mustGet(t, s, k)
	rec.Expires = time.Now().Add(-time.Second)
	mustPut(t, s, k, rec)
	wantOwnerKeys(t, s, "u2")
	if _, err := s.Get(t.Context(), k); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Get of an ended record: %v, want ErrNotFound", err)
	}
}

// memcached hands out CAS ids from 1 again after a restart, so Get's id
// may name a record written since: the store must not use it.
func TestCASIDAfterRestart(t *testing.T) {
	srv := testservice.Memcached(t)
	if srv.External() {
		t.Skip("restarts a private server")
	}
	s := newStore(t, newClient(t, srv.Addr()), Options{})
	exp := time.Now().Add(time.Hour)
	k := key("restart")
	mustPut(t, s, k, httpsession.Record{Data: []byte("before"), Expires: exp})
	rec := mustGet(t, s, k)
	e, ok := s.cas.take(k)
	if !ok {
		t.Fatal("Get left no CAS id")
	}
	s.cas.put(k, e)

	srv.Kill()
	srv.Restart()
	// Another instance creates the record again, on the new server.
	other := newStore(t, newClient(t, srv.Addr()), Options{Prefix: s.prefix})
	want := httpsession.Record{Data: []byte("after"), Expires: exp}
	want.Version = mustPut(t, other, k, want)
	item, err := other.client.Get(s.prefix + k)
	if err != nil {
		t.Fatal(err)
	}
	if item.CasID != e.casid {
		t.Logf("the new item has CAS id %d, the old one had %d: the test proves less", item.CasID, e.casid)
	}

	rec.Data = []byte("stale writer")
	_, err = s.Put(t.Context(), k, rec)
	wantErr(t, "Put of a version from before the restart", err, httpsession.ErrConflict)
	if got := mustGet(t, other, k); string(got.Data) != "after" || got.Version != want.Version {
		t.Fatalf("Get = %q version %d, want \"after\" version %d", got.Data, got.Version, want.Version)
	}
	if n := s.cas.count(); n != 0 {
		t.Errorf("after a broken connection the cache holds %d CAS ids, want none", n)
	}
}

// Many goroutines on two stores increment one counter with Get and Put,
// and touch it, while the CAS ids come and go: no increment is lost, and
// none is counted twice.
func TestCachedPutsConcurrent(t *testing.T) {
	addrs := testservice.Memcached(t).Addrs()
	s1 := newStore(t, newClient(t, addrs...), Options{})
	s2 := newStore(t, newClient(t, addrs...), Options{Prefix: s1.prefix, CASCacheSize: 1})
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	k := key("counter")
	mustPut(t, s1, k, httpsession.Record{Data: []byte("0"), Owner: "u1", Expires: exp})

	const workers, increments = 8, 25
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		versions = map[uint64]bool{}
	)
	stop := make(chan struct{})
	var toucher sync.WaitGroup
	toucher.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			// Touch gives up with ErrConflict when writers keep
			// changing the record under it.
			if err := s2.Touch(ctx, k, exp); err != nil && !errors.Is(err, httpsession.ErrConflict) {
				t.Errorf("Touch: %v", err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	for w := range workers {
		s := []*Store{s1, s2}[w%2]
		wg.Go(func() {
			for done := 0; done < increments; {
				rec, err := s.Get(ctx, k)
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				n, err := strconv.Atoi(string(rec.Data))
				if err != nil {
					t.Errorf("counter %q: %v", rec.Data, err)
					return
				}
				rec.Data = strconv.AppendInt(nil, int64(n+1), 10)
				v, err := s.Put(ctx, k, rec)
				switch {
				case err == nil:
					done++
					mu.Lock()
					if versions[v] {
						t.Errorf("version %d returned twice", v)
					}
					versions[v] = true
					mu.Unlock()
				case !errors.Is(err, httpsession.ErrConflict):
					t.Errorf("Put: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	toucher.Wait()
	if got := mustGet(t, s1, k); string(got.Data) != strconv.Itoa(workers*increments) {
		t.Fatalf("after %d increments the counter is %q", workers*increments, got.Data)
	}
	wantOwnerKeys(t, s1, "u1", k)
}

func TestCASCacheBounds(t *testing.T) {
	for _, tc := range []struct {
		size, shards, per int
	}{
		{0, casShards, (DefaultCASCacheSize + casShards - 1) / casShards},
		{1, 1, 1},
		{5, 4, 2},
		{16, 16, 1},
		{100, 16, 7},
	} {
		c := newCASCache(tc.size)
		if len(c.shards) != tc.shards || c.per != tc.per {
			t.Errorf("newCASCache(%d): %d shards of %d, want %d of %d", tc.size, len(c.shards), c.per, tc.shards, tc.per)
		}
		for i := range 10 * max(tc.size, DefaultCASCacheSize) {
			c.put(key(strconv.Itoa(i)), casEntry{version: uint64(i)})
		}
		if n := c.count(); n > tc.shards*tc.per {
			t.Errorf("newCASCache(%d) holds %d entries, over %d", tc.size, n, tc.shards*tc.per)
		}
	}

	c := newCASCache(100)
	c.put("a", casEntry{version: 1})
	c.put("a", casEntry{version: 2})
	if e, ok := c.take("a"); !ok || e.version != 2 {
		t.Fatalf("take = %v, %v; want the latest entry", e, ok)
	}
	if _, ok := c.take("a"); ok {
		t.Fatal("take twice: the entry is still there")
	}
	c.put("b", casEntry{})
	c.drop("b")
	c.put("c", casEntry{})
	c.reset()
	if n := c.count(); n != 0 {
		t.Fatalf("after drop and reset: %d entries", n)
	}

	// Off: a nil cache keeps nothing and does not panic.
	var off *casCache = newCASCache(-1)
	if off != nil {
		t.Fatal("newCASCache(-1) is on")
	}
	off.put("a", casEntry{})
	if _, ok := off.take("a"); ok || off.count() != 0 {
		t.Fatal("a cache that is off kept an entry")
	}
	off.drop("a")
	off.reset()
}

func TestCASCacheOffStillWorks(t *testing.T) {
	c := newClient(t, testservice.Memcached(t).Addrs()...)
	s := newStore(t, c, Options{CASCacheSize: -1})
	k := key("off")
	exp := time.Now().Add(time.Hour)
	mustPut(t, s, k, httpsession.Record{Data: []byte("0"), Expires: exp})
	rec := mustGet(t, s, k)
	rec.Data = []byte("1")
	v := mustPut(t, s, k, rec)
	if _, err := s.Put(t.Context(), k, rec); !errors.Is(err, httpsession.ErrConflict) {
		t.Fatalf("Put of a stale version: %v, want ErrConflict", err)
	}
	if got := mustGet(t, s, k); string(got.Data) != "1" || got.Version != v {
		t.Fatalf("Get = %q version %d", got.Data, got.Version)
	}
	// The raw client agrees.
	if _, err := c.Get(s.prefix + k); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		t.Fatal(err)
	}
}
