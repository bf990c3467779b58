package memcachestore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/storetest"
)

// Every store a test makes has a prefix of its own, so that tests can share
// a server (an external one from HTTPSESSION_TEST_MEMCACHE too). All
// prefixes have the same length, so record size limits are the same.
var (
	runID    = rand.Uint32()
	prefixes atomic.Int64
)

func testPrefix() string {
	return fmt.Sprintf("hs-test-%08x-%06d:", runID, prefixes.Add(1))
}

// maxData is the largest Record.Data without owner that fits an item of
// maxItem bytes under a key with the given prefix.
func maxData(maxItem int, prefix string) int {
	return maxItem - itemOverhead - len(prefix) - 64 - sessionLen("", 0)
}

// pool starts n private memcached servers (or returns the external ones)
// and their addresses.
func pool(t *testing.T, n int, opts ...testservice.MemcachedOption) []*testservice.Server {
	t.Helper()
	first := testservice.Memcached(t, opts...)
	servers := []*testservice.Server{first}
	if first.External() {
		return servers
	}
	for len(servers) < n {
		servers = append(servers, testservice.Memcached(t, opts...))
	}
	return servers
}

func addrsOf(servers []*testservice.Server) []string {
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s.Addrs()...)
	}
	return addrs
}

func newClient(t testing.TB, addrs ...string) *memcache.Client {
	t.Helper()
	var ss memcache.ServerList
	if err := ss.SetServers(addrs...); err != nil {
		t.Fatal(err)
	}
	c := memcache.NewFromSelector(&ss)
	c.MaxIdleConns = 16
	c.Timeout = 5 * time.Second // the race detector is slow
	t.Cleanup(func() { c.Close() })
	return c
}

func newStore(t testing.TB, c *memcache.Client, opts Options) *Store {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = testPrefix()
	}
	s, err := New(c, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// key returns a 64-character hex key made from name.
func key(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func mustPut(t *testing.T, s *Store, k string, rec httpsession.Record) uint64 {
	t.Helper()
	v, err := s.Put(t.Context(), k, rec)
	if err != nil {
		t.Fatalf("Put(%.8s…, version %d): %v", k, rec.Version, err)
	}
	return v
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

func TestConformance(t *testing.T) {
	run := func(t *testing.T, addrs []string) {
		c := newClient(t, addrs...)
		storetest.Run(t, func(t *testing.T) httpsession.Store {
			return newStore(t, c, Options{})
		}, storetest.Options{
			ExpiryGranularity: time.Second,
			MaxRecordSize:     maxData(DefaultMaxItemSize, testPrefix()),
		})
	}
	t.Run("Single", func(t *testing.T) {
		t.Parallel()
		run(t, addrsOf(pool(t, 1)))
	})
	t.Run("PoolOfThree", func(t *testing.T) {
		t.Parallel()
		run(t, addrsOf(pool(t, 3)))
	})
}

func TestNoListerNoCleaner(t *testing.T) {
	var s any = &Store{}
	if _, ok := s.(httpsession.Lister); ok {
		t.Error("Store implements Lister: memcached cannot enumerate keys")
	}
	if _, ok := s.(httpsession.Cleaner); ok {
		t.Error("Store implements Cleaner: memcached expires items itself")
	}
}

func TestExpiration(t *testing.T) {
	const day = 24 * time.Hour
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	unix := func(d time.Duration) int32 { return int32(now.Add(d).Unix()) }
	for _, tc := range []struct {
		name string
		d    time.Duration
		want int32
	}{
		{"past", -time.Second, -1},
		{"now", 0, -1},
		{"1ns", time.Nanosecond, 2},
		{"1s", time.Second, 2},
		{"1.5s", 1500 * time.Millisecond, 3},
		{"an hour", time.Hour, 3601},
		// The last duration sent as seconds: 30 days exactly, the largest
		// value memcached reads as relative.
		{"last relative", 30*day - time.Second, maxRelativeTTL},
		// One nanosecond more needs 30 days and a second: a Unix time,
		// rounded up.
		{"first absolute", 30*day - time.Second + time.Nanosecond, unix(30 * day)},
		{"30 days", 30 * day, unix(30 * day)},
		{"31 days", 31 * day, unix(31 * day)},
		{"31 days and 1ms", 31*day + time.Millisecond, unix(31*day) + 1},
		{"beyond 2038", 20 * 365 * day, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := expiration(now.Add(tc.d), now)
			if got != tc.want {
				t.Fatalf("expiration(now+%v) = %d, want %d", tc.d, got, tc.want)
			}
			if got > 0 && got <= maxRelativeTTL {
				// Seconds from now: never before the record's Expires,
				// even when memcached's clock is a second behind.
				if time.Duration(got-1)*time.Second < tc.d {
					t.Fatalf("expiration(now+%v) = %d s: memcached may drop the item early", tc.d, got)
				}
			}
		})
	}
}

// command sends line to the server at addr and returns the reply lines up
// to the one for which last returns true.
func command(t *testing.T, addr, line string, last func(string) bool) []string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "%s\r\n", line); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	var lines []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		l = strings.TrimRight(l, "\r\n")
		lines = append(lines, l)
		if last(l) {
			return lines
		}
	}
}

// serverTTL returns the seconds memcached at addr will keep the item under
// mkey, read with the meta command mg.
func serverTTL(t *testing.T, addr, mkey string) int {
	t.Helper()
	line := command(t, addr, "mg "+mkey+" t", func(string) bool { return true })[0]
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "HD" || !strings.HasPrefix(f[1], "t") {
		t.Fatalf("mg %s t: %q", mkey, line)
	}
	ttl, err := strconv.Atoi(f[1][1:])
	if err != nil {
		t.Fatal(err)
	}
	return ttl
}

// stat returns a counter from the stats of memcached at addr.
func stat(t *testing.T, addr, name string) int {
	t.Helper()
	for _, l := range command(t, addr, "stats", func(l string) bool { return l == "END" }) {
		if v, ok := strings.CutPrefix(l, "STAT "+name+" "); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no stat %s", name)
	return 0
}

func TestExpirationOnTheServer(t *testing.T) {
	srv := testservice.Memcached(t)
	if srv.External() {
		t.Skip("reads TTLs from one private server")
	}
	s := newStore(t, newClient(t, srv.Addr()), Options{})
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name     string
		d        time.Duration
		min, max int // remaining seconds the server reports
	}{
		// 10.3 s rounds up to 11 and gains a second for memcached's clock.
		{"seconds", 10300 * time.Millisecond, 11, 12},
		{"29 days", 29 * day, 29*86400 - 1, 29*86400 + 2},
		// Sent as seconds, 31 days would be a Unix time in January 1970,
		// long past: memcached would drop the item at once.
		{"31 days", 31 * day, 31*86400 - 2, 31*86400 + 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := key(tc.name)
			rec := httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(tc.d)}
			rec.Version = mustPut(t, s, k, rec)
			got, err := s.Get(t.Context(), k)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if got.Version != rec.Version || got.Expires.Sub(rec.Expires).Abs() > time.Millisecond {
				t.Errorf("Get = version %d, expires %v; want %d, %v", got.Version, got.Expires, rec.Version, rec.Expires)
			}
			if ttl := serverTTL(t, srv.Addr(), s.prefix+k); ttl < tc.min || ttl > tc.max {
				t.Errorf("server TTL %d s, want %d to %d", ttl, tc.min, tc.max)
			}
		})
	}
}

func TestExpiredWhileStillInMemcached(t *testing.T) {
	c := newClient(t, testservice.Memcached(t).Addrs()...)
	s := newStore(t, c, Options{})
	ctx := t.Context()
	k := key("short")
	// memcached keeps the item a second or two longer; the store does not.
	// On a loaded machine the check may come after memcached dropped it
	// too, which proves nothing: then try again, a bounded number of times.
	var v uint64
	for attempt := 1; ; attempt++ {
		expires := time.Now().Add(300 * time.Millisecond)
		v = mustPut(t, s, k, httpsession.Record{Data: []byte("short"), Owner: "u1", Expires: expires})
		time.Sleep(time.Until(expires) + 20*time.Millisecond)
		_, err := c.Get(s.prefix + k)
		if err == nil {
			break
		}
		if attempt == 5 {
			t.Fatalf("the item was gone from memcached %d times in a row (%v): the test proves nothing", attempt, err)
		}
		t.Logf("attempt %d: memcached dropped the item before the check (%v); again", attempt, err)
	}
	_, err := s.Get(ctx, k)
	wantErr(t, "Get after Expires", err, httpsession.ErrNotFound)
	wantErr(t, "Touch after Expires", s.Touch(ctx, k, time.Now().Add(time.Hour)), httpsession.ErrNotFound)
	_, err = s.Put(ctx, k, httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour), Version: v})
	wantErr(t, "Put with the expired record's version", err, httpsession.ErrConflict)
	if keys, err := s.OwnerKeys(ctx, "u1"); err != nil || len(keys) != 0 {
		t.Fatalf("OwnerKeys = %.8s, %v; want none", keys, err)
	}

	// A create replaces the item that memcached still holds.
	want := httpsession.Record{Data: []byte("new"), Expires: time.Now().Add(time.Hour)}
	want.Version = mustPut(t, s, k, want)
	got, err := s.Get(ctx, k)
	if err != nil || string(got.Data) != "new" || got.Version != want.Version {
		t.Fatalf("Get = %q version %d, %v; want %q version %d", got.Data, got.Version, err, want.Data, want.Version)
	}
}

func TestInvalidKeys(t *testing.T) {
	c := newClient(t, testservice.Memcached(t).Addrs()...)
	s := newStore(t, c, Options{})
	ctx := t.Context()
	hex64 := key("a")
	for _, k := range []string{
		"",
		"abc",
		strings.ToUpper(hex64),
		hex64[:63] + " ",
		hex64[:62] + "\r\n",
		"../" + hex64[3:],
		hex64[:63] + "\x00",
		strings.Repeat("g", 64),
		hex64 + "0",
		hex64[:31] + " get " + hex64[:28],
	} {
		rec := httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}
		if _, err := s.Put(ctx, k, rec); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Touch(ctx, k, time.Now()); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Touch(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestNewChecksOptions(t *testing.T) {
	c := newClient(t, testservice.Memcached(t).Addrs()...)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"prefix with a space", Options{Prefix: "my app:"}},
		{"prefix with a newline", Options{Prefix: "app\r\nflush_all\r\n"}},
		{"prefix too long", Options{Prefix: strings.Repeat("p", MaxPrefixLen+1)}},
		{"item size too small", Options{MaxItemSize: 1000}},
		{"negative item size", Options{MaxItemSize: -1}},
	} {
		if s, err := New(c, tc.opts); err == nil || s != nil {
			t.Errorf("%s: New = %v, %v; want an error", tc.name, s, err)
		}
	}
	if s, err := New(nil, Options{}); err == nil || s != nil {
		t.Errorf("New(nil) = %v, %v; want an error", s, err)
	}
	s := newStore(t, c, Options{Prefix: strings.Repeat("p", MaxPrefixLen)})
	// The longest prefix still makes legal keys for sessions and indexes.
	mustPut(t, s, key("a"), httpsession.Record{Data: []byte("x"), Owner: "u", Expires: time.Now().Add(time.Hour)})
	if keys, err := s.OwnerKeys(t.Context(), "u"); err != nil || len(keys) != 1 {
		t.Fatalf("OwnerKeys with the longest prefix = %.8s, %v", keys, err)
	}
}

// deadAddr returns a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNewFailsWithoutServer(t *testing.T) {
	dead := deadAddr(t)
	if s, err := New(memcache.New(dead), Options{}); err == nil || s != nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("New on %s = %v, %v; want a \"does not answer\" error", dead, s, err)
	}
	if s, err := NewServers(dead); err == nil || s != nil {
		t.Errorf("NewServers(%s) = %v, %v; want an error", dead, s, err)
	}
	if s, err := NewServers(); err == nil || s != nil {
		t.Errorf("NewServers() = %v, %v; want an error", s, err)
	}
	if s, err := NewServers("no port"); err == nil || s != nil {
		t.Errorf("NewServers(%q) = %v, %v; want an error", "no port", s, err)
	}
	// memcache.New drops addresses it cannot resolve; a client without
	// servers passes Ping, but not New.
	if s, err := New(memcache.New(), Options{}); err == nil || s != nil {
		t.Errorf("New on a client without servers = %v, %v; want an error", s, err)
	}
	live := testservice.Memcached(t)
	if !live.External() {
		s, err := NewServers(live.Addr())
		if err != nil {
			t.Fatalf("NewServers(%s): %v", live.Addr(), err)
		}
		defer s.Close()
		if err := s.Ping(t.Context()); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}
}

func TestTooLargeSendsNothing(t *testing.T) {
	srv := testservice.Memcached(t)
	s := newStore(t, newClient(t, srv.Addrs()...), Options{MaxItemSize: 4096})
	ctx := t.Context()
	limit := maxData(4096, s.prefix)
	exp := time.Now().Add(time.Hour)

	k := key("existing")
	want := httpsession.Record{Data: []byte("small"), Owner: "u1", Expires: exp}
	want.Version = mustPut(t, s, k, want)
	atLimit := mustPut(t, s, key("at-limit"), httpsession.Record{Data: make([]byte, limit), Expires: exp})

	sets := 0
	if !srv.External() {
		sets = stat(t, srv.Addr(), "cmd_set")
	}
	for _, tc := range []struct {
		name string
		key  string
		rec  httpsession.Record
	}{
		{"create", key("new"), httpsession.Record{Data: make([]byte, limit+1), Expires: exp}},
		{"update", k, httpsession.Record{Data: make([]byte, limit+1), Expires: exp, Version: want.Version}},
		// The owner is part of the item.
		{"update with owner", k, httpsession.Record{Data: make([]byte, limit-1), Owner: "u1", Expires: exp, Version: want.Version}},
		{"at limit plus one", key("at-limit"), httpsession.Record{Data: make([]byte, limit+1), Expires: exp, Version: atLimit}},
	} {
		_, err := s.Put(ctx, tc.key, tc.rec)
		wantErr(t, tc.name, err, httpsession.ErrTooLarge)
	}
	if !srv.External() {
		if n := stat(t, srv.Addr(), "cmd_set"); n != sets {
			t.Errorf("memcached saw %d storage commands for records over the limit, want none", n-sets)
		}
	}
	_, err := s.Get(ctx, key("new"))
	wantErr(t, "Get of a record that was too large", err, httpsession.ErrNotFound)
	got, err := s.Get(ctx, k)
	if err != nil || string(got.Data) != "small" || got.Version != want.Version {
		t.Fatalf("Get after too-large updates = %q version %d, %v; want the record before", got.Data, got.Version, err)
	}
}

func TestServerRefusesTooLarge(t *testing.T) {
	// The server takes items of up to 512 KiB (smaller -I values need
	// slab_chunk_max too); the store believes it may send 1 MiB.
	srv := testservice.Memcached(t, testservice.ItemSizeMax("512k"))
	if srv.External() {
		t.Skip("needs a private server with a small item size")
	}
	s := newStore(t, newClient(t, srv.Addr()), Options{})
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	big := make([]byte, 600<<10)

	k := key("existing")
	want := httpsession.Record{Data: []byte("small"), Owner: "u1", Expires: exp}
	want.Version = mustPut(t, s, k, want)

	_, err := s.Put(ctx, key("new"), httpsession.Record{Data: big, Expires: exp})
	wantErr(t, "create over the server's limit", err, httpsession.ErrTooLarge)
	_, err = s.Get(ctx, key("new"))
	wantErr(t, "Get after a refused create", err, httpsession.ErrNotFound)

	_, err = s.Put(ctx, k, httpsession.Record{Data: big, Owner: "u1", Expires: exp, Version: want.Version})
	wantErr(t, "update over the server's limit", err, httpsession.ErrTooLarge)
	got, err := s.Get(ctx, k)
	if err != nil || string(got.Data) != "small" || got.Version != want.Version {
		t.Fatalf("Get after a refused update = %q version %d, %v; want the record before", got.Data, got.Version, err)
	}
	// The store goes on working, and the refused write changed nothing:
	// the version read before still wins.
	mustPut(t, s, k, httpsession.Record{Data: make([]byte, 500<<10), Owner: "u1", Expires: exp, Version: want.Version})
}

func TestServerRestart(t *testing.T) {
	srv := testservice.Memcached(t)
	if srv.External() {
		t.Skip("restarts a private server")
	}
	c := newClient(t, srv.Addr())
	s := newStore(t, c, Options{})
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	k := key("a")
	v := mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: exp})

	// Fill the client's pool with idle connections, all of which break.
	fillPool := func() {
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() { _, _ = s.Get(ctx, k) })
		}
		wg.Wait()
	}
	fillPool()
	srv.Kill()
	if _, err := s.Get(ctx, k); err == nil || errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Get while the server is down = %v; want an error other than ErrNotFound", err)
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping while the server is down: no error")
	}
	srv.Restart()

	// The server lost everything: a missing session, not an error.
	_, err := s.Get(ctx, k)
	wantErr(t, "Get after a restart", err, httpsession.ErrNotFound)
	_, err = s.Put(ctx, k, httpsession.Record{Data: []byte("y"), Expires: exp, Version: v})
	wantErr(t, "update after a restart", err, httpsession.ErrConflict)
	if keys, err := s.OwnerKeys(ctx, "u1"); err != nil || len(keys) != 0 {
		t.Fatalf("OwnerKeys after a restart = %.8s, %v; want none", keys, err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after a restart: %v", err)
	}

	// A create as the first call after a restart, on a broken pooled
	// connection, works too...
	fillPool()
	srv.Kill()
	srv.Restart()
	mustPut(t, s, k, httpsession.Record{Data: []byte("z"), Expires: exp})
	// ...and so does a read.
	fillPool()
	srv.Kill()
	srv.Restart()
	_, err = s.Get(ctx, k)
	wantErr(t, "Get after a restart", err, httpsession.ErrNotFound)
	v = mustPut(t, s, k, httpsession.Record{Data: []byte("z"), Owner: "u1", Expires: exp})
	got, err := s.Get(ctx, k)
	if err != nil || string(got.Data) != "z" || got.Version != v {
		t.Fatalf("Get = %q version %d, %v; want \"z\" version %d", got.Data, got.Version, err, v)
	}
	if keys, err := s.OwnerKeys(ctx, "u1"); err != nil || !slices.Equal(keys, []string{k}) {
		t.Fatalf("OwnerKeys = %.8s, %v; want [%.8s]", keys, err, k)
	}
}

func TestPoolSpreadsKeys(t *testing.T) {
	servers := pool(t, 3)
	if len(servers) < 3 {
		t.Skip("needs three private servers")
	}
	s := newStore(t, newClient(t, addrsOf(servers)...), Options{})
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	const n = 60
	var mkeys []string
	for i := range n {
		k := key(strconv.Itoa(i))
		mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: exp})
		mkeys = append(mkeys, s.prefix+k)
	}
	total := 0
	for _, srv := range servers {
		items, err := newClient(t, srv.Addr()).GetMulti(mkeys)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) == 0 {
			t.Errorf("server %s holds none of %d sessions", srv.Addr(), n)
		}
		total += len(items)
	}
	if total != n {
		t.Errorf("the servers hold %d sessions, want %d", total, n)
	}
	if keys, err := s.OwnerKeys(ctx, "u1"); err != nil || len(keys) != n {
		t.Errorf("OwnerKeys over three servers: %d keys, %v; want %d", len(keys), err, n)
	}

	// With one server down, Ping fails; the sessions on the others stay
	// readable, and those on it fail with an error, not ErrNotFound.
	servers[2].Kill()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping with a server down: no error")
	}
	var ok, failed int
	for i := range n {
		_, err := s.Get(ctx, key(strconv.Itoa(i)))
		switch {
		case err == nil:
			ok++
		case errors.Is(err, httpsession.ErrNotFound):
			t.Fatalf("Get of a session on a dead server: %v; want an error other than ErrNotFound", err)
		default:
			failed++
		}
	}
	if ok == 0 || failed == 0 {
		t.Errorf("with one of three servers down, %d Gets worked and %d failed; want some of each", ok, failed)
	}
}

// rawIndex reads owner's index straight from memcached.
func rawIndex(t *testing.T, s *Store, owner string) (ownerIndex, bool) {
	t.Helper()
	item, err := s.client.Get(s.indexKey(owner))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return ownerIndex{}, false
	}
	if err != nil {
		t.Fatal(err)
	}
	idx, ok := decodeIndex(item.Value)
	if !ok {
		t.Fatalf("index of %q does not decode: %q", owner, item.Value)
	}
	return idx, true
}

func wantOwnerKeys(t *testing.T, s *Store, owner string, want ...string) {
	t.Helper()
	got, err := s.OwnerKeys(t.Context(), owner)
	if err != nil {
		t.Fatalf("OwnerKeys(%.20q): %v", owner, err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("OwnerKeys(%.20q) = %.8s, want %.8s", owner, got, want)
	}
}

func TestOwnerIndex(t *testing.T) {
	c := newClient(t, addrsOf(pool(t, 3))...)
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)

	t.Run("KeyLayout", func(t *testing.T) {
		s := newStore(t, c, Options{})
		owner := "alice@example.com"
		k := key("a")
		mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: owner, Expires: exp})
		sum := sha256.Sum256([]byte(owner))
		if want := s.prefix + "owner:" + hex.EncodeToString(sum[:]); s.indexKey(owner) != want {
			t.Fatalf("index key %q, want %q", s.indexKey(owner), want)
		}
		idx, ok := rawIndex(t, s, owner)
		if !ok || len(idx.entries) != 1 || idx.entries[0].key != keyBytes(k) {
			t.Fatalf("index = %+v, %v; want the one key", idx, ok)
		}
		if min := unixMilliCeil(exp.Add(indexSlack)); idx.cover < min {
			t.Errorf("index kept until %v, want at least %v", time.UnixMilli(idx.cover), time.UnixMilli(min))
		}
	})

	t.Run("AnyOwnerString", func(t *testing.T) {
		s := newStore(t, c, Options{})
		for i, owner := range []string{"with space", "new\r\nline", "ünïcødé", strings.Repeat("long", 5000), "\x00"} {
			k := key(strconv.Itoa(i))
			mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: owner, Expires: exp})
			wantOwnerKeys(t, s, owner, k)
		}
	})

	t.Run("DeleteUnindexes", func(t *testing.T) {
		s := newStore(t, c, Options{})
		a, b := key("a"), key("b")
		mustPut(t, s, a, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: exp})
		mustPut(t, s, b, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: exp})
		if err := s.Delete(ctx, a); err != nil {
			t.Fatal(err)
		}
		idx, _ := rawIndex(t, s, "u1")
		if len(idx.entries) != 1 || idx.entries[0].key != keyBytes(b) {
			t.Fatalf("index after Delete holds %d entries, want only b", len(idx.entries))
		}
		if err := s.Delete(ctx, b); err != nil {
			t.Fatal(err)
		}
		if _, ok := rawIndex(t, s, "u1"); ok {
			t.Fatal("an empty index is still there")
		}
	})

	t.Run("TouchCoversAndHeals", func(t *testing.T) {
		s := newStore(t, c, Options{})
		k := key("a")
		mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: time.Now().Add(time.Minute)})
		later := time.Now().Add(3 * time.Hour)
		if err := s.Touch(ctx, k, later); err != nil {
			t.Fatal(err)
		}
		idx, _ := rawIndex(t, s, "u1")
		if idx.cover < unixMilliCeil(later) {
			t.Fatalf("index kept until %v after a Touch to %v", time.UnixMilli(idx.cover), later)
		}
		// The index is evicted: OwnerKeys misses the session until its
		// next Touch (or Put) writes the index again.
		if err := c.Delete(s.indexKey("u1")); err != nil {
			t.Fatal(err)
		}
		wantOwnerKeys(t, s, "u1")
		if err := s.Touch(ctx, k, later); err != nil {
			t.Fatal(err)
		}
		wantOwnerKeys(t, s, "u1", k)
	})

	t.Run("PrunesOnlyPassedHints", func(t *testing.T) {
		s := newStore(t, c, Options{})
		live, expiring, inFlight := key("live"), key("expiring"), key("in-flight")
		mustPut(t, s, live, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: exp})
		soon := time.Now().Add(200 * time.Millisecond)
		mustPut(t, s, expiring, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: soon})
		// A Put that has written the index but not yet its session.
		if err := s.index(ctx, "u1", inFlight, exp); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(soon) + 20*time.Millisecond)

		wantOwnerKeys(t, s, "u1", live)
		idx, _ := rawIndex(t, s, "u1")
		var held []string
		for _, e := range idx.entries {
			held = append(held, hex.EncodeToString(e.key[:]))
		}
		slices.Sort(held)
		want := []string{live, inFlight}
		slices.Sort(want)
		if !slices.Equal(held, want) {
			t.Fatalf("index holds %.8s, want %.8s: the expired entry dropped, the one in flight kept", held, want)
		}
	})

	t.Run("ConcurrentLogins", func(t *testing.T) {
		s := newStore(t, c, Options{})
		const n = 30
		var wg sync.WaitGroup
		var keys []string
		for i := range n {
			k := key(strconv.Itoa(i))
			keys = append(keys, k)
			wg.Go(func() {
				if _, err := s.Put(ctx, k, httpsession.Record{Data: []byte("x"), Owner: "busy", Expires: exp}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		wantOwnerKeys(t, s, "busy", keys...)
	})

	t.Run("FullIndex", func(t *testing.T) {
		const maxItem = 2048
		s := newStore(t, c, Options{MaxItemSize: maxItem})
		fits := (maxItem - itemOverhead - len(s.indexKey("u1")) - indexHeaderLen) / entryLen
		// Sessions that vanish behind the index's back (evicted) leave
		// entries whose hints are still ahead.
		for i := range fits {
			k := key(fmt.Sprint("evicted", i))
			mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: exp})
			if err := c.Delete(s.prefix + k); err != nil {
				t.Fatal(err)
			}
		}
		// A full index is checked in full: the dead entries go.
		var live []string
		for i := range fits {
			k := key(fmt.Sprint("live", i))
			mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: exp})
			live = append(live, k)
		}
		wantOwnerKeys(t, s, "u1", live...)
		// One live session more than the index can hold.
		_, err := s.Put(ctx, key("one too many"), httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: exp})
		wantErr(t, "Put of a session the owner's index cannot hold", err, httpsession.ErrTooLarge)
		_, err = s.Get(ctx, key("one too many"))
		wantErr(t, "Get of the session refused", err, httpsession.ErrNotFound)
	})
}

func TestForeignItems(t *testing.T) {
	c := newClient(t, testservice.Memcached(t).Addrs()...)
	s := newStore(t, c, Options{})
	ctx := t.Context()
	exp := time.Now().Add(time.Hour)
	k := key("a")
	for _, junk := range []string{"", "junk", "S", "S\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\xff"} {
		if err := c.Set(&memcache.Item{Key: s.prefix + k, Value: []byte(junk)}); err != nil {
			t.Fatal(err)
		}
		_, err := s.Get(ctx, k)
		wantErr(t, fmt.Sprintf("Get of %q", junk), err, httpsession.ErrNotFound)
		wantErr(t, fmt.Sprintf("Touch of %q", junk), s.Touch(ctx, k, exp), httpsession.ErrNotFound)
		_, err = s.Put(ctx, k, httpsession.Record{Data: []byte("x"), Expires: exp, Version: 1})
		wantErr(t, fmt.Sprintf("update of %q", junk), err, httpsession.ErrConflict)
		mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Expires: exp})
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}

	// An index that does not decode reads as empty and is replaced.
	if err := c.Set(&memcache.Item{Key: s.indexKey("u1"), Value: []byte("junk")}); err != nil {
		t.Fatal(err)
	}
	wantOwnerKeys(t, s, "u1")
	mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: exp})
	wantOwnerKeys(t, s, "u1", k)
}

func TestRecreatedRecordHasNewVersions(t *testing.T) {
	s := newStore(t, newClient(t, testservice.Memcached(t).Addrs()...), Options{})
	k := key("a")
	exp := time.Now().Add(time.Hour)
	v1 := mustPut(t, s, k, httpsession.Record{Data: []byte("first"), Expires: exp})
	if err := s.Delete(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	v2 := mustPut(t, s, k, httpsession.Record{Data: []byte("second"), Expires: exp})
	if v1 == v2 {
		t.Fatalf("a record created again got its predecessor's version %d", v1)
	}
	_, err := s.Put(t.Context(), k, httpsession.Record{Data: []byte("stale"), Expires: exp, Version: v1})
	wantErr(t, "Put with the deleted record's version", err, httpsession.ErrConflict)
}

func TestCanceledContext(t *testing.T) {
	s := newStore(t, newClient(t, testservice.Memcached(t).Addrs()...), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	k := key("a")
	rec := httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: time.Now().Add(time.Hour)}
	_, err := s.Put(ctx, k, rec)
	wantErr(t, "Put", err, context.Canceled)
	_, err = s.Get(ctx, k)
	wantErr(t, "Get", err, context.Canceled)
	wantErr(t, "Touch", s.Touch(ctx, k, time.Now()), context.Canceled)
	wantErr(t, "Delete", s.Delete(ctx, k), context.Canceled)
	_, err = s.OwnerKeys(ctx, "u1")
	wantErr(t, "OwnerKeys", err, context.Canceled)
	wantErr(t, "Ping", s.Ping(ctx), context.Canceled)
	if _, err := s.Get(t.Context(), k); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Get after a canceled Put: %v, want ErrNotFound", err)
	}
}
