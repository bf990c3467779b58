package memcachestore

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
)

// logBuffer is a slog.Logger's output that tests read.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// privatePool starts n private memcached servers; tests that kill one
// skip on external servers.
func privatePool(t *testing.T, n int) []*testservice.Server {
	t.Helper()
	servers := pool(t, n)
	if servers[0].External() {
		t.Skip("kills and restarts private servers")
	}
	return servers
}

// keysOn returns n session keys that the pool's ServerList puts on
// server addr, and as many that it puts elsewhere.
func keysOn(t *testing.T, addrs []string, addr, prefix string, n int) (on, off []string) {
	t.Helper()
	var ss memcache.ServerList
	if err := ss.SetServers(addrs...); err != nil {
		t.Fatal(err)
	}
	for i := 0; len(on) < n || len(off) < n; i++ {
		k := key("pool" + string(rune('a'+i%26)) + strings.Repeat("x", i/26))
		a, err := ss.PickServer(prefix + k)
		if err != nil {
			t.Fatal(err)
		}
		if a.String() == addr && len(on) < n {
			on = append(on, k)
		} else if a.String() != addr && len(off) < n {
			off = append(off, k)
		}
	}
	return on, off
}

// ownerOn returns an owner whose index item the pool puts on addr, or
// elsewhere when on is false.
func ownerOn(t *testing.T, s *Store, addrs []string, addr string, on bool) string {
	t.Helper()
	var ss memcache.ServerList
	if err := ss.SetServers(addrs...); err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		owner := "user" + strings.Repeat("-", i)
		a, err := ss.PickServer(s.indexKey(owner))
		if err != nil {
			t.Fatal(err)
		}
		if (a.String() == addr) == on {
			return owner
		}
	}
	t.Fatal("no owner found")
	return ""
}

// A pool starts when one server of three is down, names that server in
// the log, and serves the sessions of the others.
func TestPoolStartsWithServerDown(t *testing.T) {
	servers := privatePool(t, 3)
	addrs := addrsOf(servers)
	dead := servers[2]
	dead.Kill()
	var log logBuffer
	s, err := NewPool(addrs, Options{Prefix: testPrefix(), Logger: log.logger()})
	if err != nil {
		t.Fatalf("NewPool with one server of three down: %v", err)
	}
	defer s.Close()
	if out := log.String(); !strings.Contains(out, "does not answer") || !strings.Contains(out, dead.Addr()) ||
		strings.Contains(out, servers[0].Addr()) || strings.Contains(out, servers[1].Addr()) {
		t.Errorf("log names the wrong servers:\n%s", out)
	}
	on, off := keysOn(t, addrs, dead.Addr(), s.prefix, 3)
	exp := time.Now().Add(time.Hour)
	for _, k := range off {
		mustPut(t, s, k, httpsession.Record{Data: []byte("live"), Expires: exp})
	}
	for _, k := range on {
		_, err := s.Put(t.Context(), k, httpsession.Record{Data: []byte("dead"), Expires: exp})
		wantUnavailable(t, "Put on the dead server", err)
	}
	// It comes back: no new store needed.
	dead.Restart()
	for _, k := range on {
		mustPut(t, s, k, httpsession.Record{Data: []byte("back"), Expires: exp})
	}
	for _, k := range append(on, off...) {
		if _, err := s.Get(t.Context(), k); err != nil {
			t.Fatalf("Get(%.8s…) after the server came back: %v", k, err)
		}
	}

	// New with the client of the same pool starts as well.
	dead.Kill()
	log = logBuffer{}
	s2, err := New(newClient(t, addrs...), Options{Prefix: testPrefix(), Logger: log.logger()})
	if err != nil {
		t.Fatalf("New with one server of three down: %v", err)
	}
	s2.Close()
	if !strings.Contains(log.String(), "does not answer") {
		t.Errorf("New logged nothing about the dead server:\n%s", log.String())
	}
}

// wantUnavailable fails unless err wraps httpsession.ErrUnavailable and
// still shows the driver's error.
func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	var opErr *net.OpError
	if !errors.Is(err, httpsession.ErrUnavailable) || !errors.As(err, &opErr) {
		t.Fatalf("%s: got %v, want ErrUnavailable with the driver's *net.OpError", what, err)
	}
}

// No server at all is still an error at start.
func TestPoolWithNoServerFails(t *testing.T) {
	addrs := []string{deadAddr(t), deadAddr(t)}
	var log logBuffer
	s, err := NewPool(addrs, Options{Logger: log.logger()})
	if err == nil || s != nil || !errors.Is(err, httpsession.ErrUnavailable) {
		t.Fatalf("NewPool on dead servers = %v, %v; want ErrUnavailable", s, err)
	}
	if s, err := New(memcache.New(addrs...), Options{Logger: log.logger()}); err == nil || s != nil {
		t.Fatalf("New on dead servers = %v, %v; want an error", s, err)
	}
}

// A server killed in use: the sessions on the others keep working, those
// on it fail with ErrUnavailable and come back empty (memcached keeps
// nothing) when it restarts on its port.
func TestPoolServerKilled(t *testing.T) {
	servers := privatePool(t, 3)
	addrs := addrsOf(servers)
	victim := servers[1]
	s := newStore(t, newClient(t, addrs...), Options{Logger: slog.New(slog.DiscardHandler)})
	on, off := keysOn(t, addrs, victim.Addr(), s.prefix, 4)
	exp := time.Now().Add(time.Hour)
	versions := map[string]uint64{}
	for _, k := range append(on, off...) {
		versions[k] = mustPut(t, s, k, httpsession.Record{Data: []byte("1"), Expires: exp})
		if _, err := s.Get(t.Context(), k); err != nil { // fills the pool's idle connections
			t.Fatal(err)
		}
	}
	victim.Kill()
	for _, k := range off {
		rec, err := s.Get(t.Context(), k)
		if err != nil {
			t.Fatalf("Get on a live server while another is down: %v", err)
		}
		versions[k] = mustPut(t, s, k, httpsession.Record{Data: []byte("2"), Expires: exp, Version: rec.Version})
		if err := s.Touch(t.Context(), k, exp); err != nil {
			t.Fatalf("Touch on a live server while another is down: %v", err)
		}
	}
	for _, k := range on {
		_, err := s.Get(t.Context(), k)
		wantUnavailable(t, "Get on the killed server", err)
		_, err = s.Put(t.Context(), k, httpsession.Record{Data: []byte("2"), Expires: exp, Version: versions[k]})
		wantUnavailable(t, "Put on the killed server", err)
	}
	if err := s.Ping(t.Context()); !errors.Is(err, httpsession.ErrUnavailable) {
		t.Fatalf("Ping with a server down: %v", err)
	}

	victim.Restart()
	for _, k := range on {
		_, err := s.Get(t.Context(), k)
		wantErr(t, "Get of a session the restarted server lost", err, httpsession.ErrNotFound)
		mustPut(t, s, k, httpsession.Record{Data: []byte("new"), Expires: exp})
	}
	for _, k := range off {
		if rec, err := s.Get(t.Context(), k); err != nil || string(rec.Data) != "2" {
			t.Fatalf("Get on a server that stayed up = %q, %v", rec.Data, err)
		}
	}
}

// An owned session saved while its owner's index item is on a dead
// server is written all the same; the failure is counted and logged, and
// the next save after the server returns puts the session back in the
// index.
func TestPoolIndexServerDown(t *testing.T) {
	servers := privatePool(t, 3)
	addrs := addrsOf(servers)
	victim := servers[0]
	var log logBuffer
	s := newStore(t, newClient(t, addrs...), Options{Logger: log.logger()})
	owner := ownerOn(t, s, addrs, victim.Addr(), true)
	_, off := keysOn(t, addrs, victim.Addr(), s.prefix, 2)
	exp := time.Now().Add(time.Hour)
	victim.Kill()

	v := mustPut(t, s, off[0], httpsession.Record{Data: []byte("1"), Owner: owner, Expires: exp})
	rec, err := s.Get(t.Context(), off[0])
	if err != nil || rec.Owner != owner || rec.Version != v {
		t.Fatalf("the record written beside a dead index: %+v, %v", rec, err)
	}
	mustPut(t, s, off[0], httpsession.Record{Data: []byte("2"), Owner: owner, Expires: exp, Version: v})
	if err := s.Touch(t.Context(), off[0], exp); err != nil {
		t.Fatalf("Touch beside a dead index: %v", err)
	}
	if got := s.Stats().IndexFailures; got != 3 {
		t.Errorf("IndexFailures = %d after a create, an update and a touch; want 3", got)
	}
	if out := log.String(); strings.Count(out, "owner's index was not") != 1 {
		t.Errorf("want one log line for three failures within %v:\n%s", indexLogEvery, out)
	}
	_, err = s.OwnerKeys(t.Context(), owner)
	wantUnavailable(t, "OwnerKeys with the index on a dead server", err)

	victim.Restart()
	if keys, err := s.OwnerKeys(t.Context(), owner); err != nil || len(keys) != 0 {
		t.Fatalf("OwnerKeys after the index server restarted empty = %.8s, %v", keys, err)
	}
	rec, err = s.Get(t.Context(), off[0])
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, off[0], httpsession.Record{Data: []byte("3"), Owner: owner, Expires: exp, Version: rec.Version})
	if keys, err := s.OwnerKeys(t.Context(), owner); err != nil || len(keys) != 1 || keys[0] != off[0] {
		t.Fatalf("OwnerKeys after the next save = %.8s, %v; want [%.8s]", keys, err, off[0])
	}
}

// An index on a live server that names a session on a dead one: saves of
// the owner's other sessions go on (and count no failure), while
// OwnerKeys refuses to answer without that session rather than let "sign
// out everywhere" miss it.
func TestPoolIndexedSessionDown(t *testing.T) {
	servers := privatePool(t, 3)
	addrs := addrsOf(servers)
	victim := servers[2]
	s := newStore(t, newClient(t, addrs...), Options{Logger: slog.New(slog.DiscardHandler)})
	owner := ownerOn(t, s, addrs, victim.Addr(), false)
	on, off := keysOn(t, addrs, victim.Addr(), s.prefix, 2)
	exp := time.Now().Add(time.Hour)
	// A short hint makes the next index write check the entry.
	mustPut(t, s, on[0], httpsession.Record{Data: []byte("x"), Owner: owner, Expires: time.Now().Add(1500 * time.Millisecond)})
	v := mustPut(t, s, off[0], httpsession.Record{Data: []byte("x"), Owner: owner, Expires: exp})
	victim.Kill()
	time.Sleep(1600 * time.Millisecond) // past the hint of on[0]
	mustPut(t, s, off[1], httpsession.Record{Data: []byte("x"), Owner: owner, Expires: exp})
	mustPut(t, s, off[0], httpsession.Record{Data: []byte("y"), Owner: owner, Expires: exp.Add(time.Hour), Version: v})
	if got := s.Stats().IndexFailures; got != 0 {
		t.Errorf("IndexFailures = %d; the index server was up", got)
	}
	_, err := s.OwnerKeys(t.Context(), owner)
	if !errors.Is(err, httpsession.ErrUnavailable) {
		t.Fatalf("OwnerKeys with a session on a dead server: %v, want ErrUnavailable", err)
	}
	victim.Restart()
	keys, err := s.OwnerKeys(t.Context(), owner)
	if err != nil || len(keys) != 2 {
		t.Fatalf("OwnerKeys after the restart = %.8s, %v; want the two sessions on live servers", keys, err)
	}
}

// Through the middleware, a killed memcached is a 503 with Retry-After,
// not a 500, and the sessions on the other servers are served.
func TestPoolOutageIs503(t *testing.T) {
	servers := privatePool(t, 2)
	addrs := addrsOf(servers)
	s := newStore(t, newClient(t, addrs...), Options{Logger: slog.New(slog.DiscardHandler)})
	m, err := httpsession.New(httpsession.Config{Store: s, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := httpsession.SessionFrom(r.Context()).Incr("n", 1)
		w.Write([]byte{byte('0' + n%10)})
	}))
	do := func(cookie string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "/", nil)
		if cookie != "" {
			r.Header.Set("Cookie", "session="+cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	var ss memcache.ServerList
	if err := ss.SetServers(addrs...); err != nil {
		t.Fatal(err)
	}
	victim := servers[1]
	var onVictim, elsewhere []string
	for i := 0; i < 200 && (len(onVictim) < 3 || len(elsewhere) < 3); i++ {
		w := do("")
		var token string
		for _, c := range w.Result().Cookies() {
			if c.Name == "session" {
				token = c.Value
			}
		}
		if w.Code != http.StatusOK || token == "" {
			t.Fatalf("new session: %d, cookie %q", w.Code, token)
		}
		a, err := ss.PickServer(s.prefix + httpsession.StoreKey(token))
		if err != nil {
			t.Fatal(err)
		}
		if a.String() == victim.Addr() {
			onVictim = append(onVictim, token)
		} else {
			elsewhere = append(elsewhere, token)
		}
	}
	victim.Kill()
	for _, token := range elsewhere {
		if w := do(token); w.Code != http.StatusOK || w.Body.String() != "2" {
			t.Fatalf("a session on a live server: %d %q", w.Code, w.Body.String())
		}
	}
	for _, token := range onVictim {
		w := do(token)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Fatalf("a session on the killed server: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
		}
	}
	// New visitors get a session or a 503, never a 500.
	codes := map[int]int{}
	for range 20 {
		codes[do("").Code]++
	}
	if codes[http.StatusOK]+codes[http.StatusServiceUnavailable] != 20 {
		t.Fatalf("new visitors while a server is down: %v", codes)
	}
}
