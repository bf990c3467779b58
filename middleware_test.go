package httpsession_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/transport"
)

func TestNewSessionAndPersistence(t *testing.T) {
	m, cs, _ := newManager(t, httpsession.Config{})
	h := m.Handler(api())

	w := do(t, h, "POST", "/put?key=color&value=blue", "")
	c := sessionCookie(w)
	if c == nil {
		t.Fatal("no session cookie on a request that changed the session")
	}
	if len(c.Value) != 43 || strings.ContainsAny(c.Value, "+/=") {
		t.Fatalf("token %q is not 43 base64url characters", c.Value)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("cookie attributes: %+v", c)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control = %q, want no-store", got)
	}
	if _, err := cs.Store.Get(context.Background(), c.Value); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatal("the raw token is a store key")
	}
	if _, err := cs.Store.Get(context.Background(), httpsession.StoreKey(c.Value)); err != nil {
		t.Fatalf("record not stored under the token's hash: %v", err)
	}

	w = do(t, h, "GET", "/get?key=color", "session="+c.Value)
	if w.Code != 200 || w.Body.String() != "blue" {
		t.Fatalf("second request: %d %q", w.Code, w.Body.String())
	}
	if sessionCookie(w) != nil {
		t.Fatal("a request that changed nothing set a cookie")
	}
	if got := w.Header().Values("Vary"); len(got) != 1 || got[0] != "Cookie" {
		t.Fatalf("Vary = %q", got)
	}
}

func TestUntouchedAnonymousRequestCreatesNothing(t *testing.T) {
	m, cs, _ := newManager(t, httpsession.Config{})
	h := m.Handler(api())
	for range 100 {
		w := do(t, h, "GET", "/get?key=x", "")
		if w.Code != http.StatusNotFound || sessionCookie(w) != nil {
			t.Fatalf("anonymous read: %d, cookie %v", w.Code, sessionCookie(w))
		}
	}
	if n := cs.gets.Load() + cs.puts.Load() + cs.deletes.Load(); n != 0 {
		t.Fatalf("%d store calls for anonymous requests without a token", n)
	}
}

func TestReadOnlyRequestCostsOneGet(t *testing.T) {
	m, cs, _ := newManager(t, httpsession.Config{})
	h := m.Handler(api())
	token := sessionCookie(do(t, h, "POST", "/put?key=a&value=1", "")).Value
	cs.reset()
	for range 10 {
		if w := do(t, h, "GET", "/get?key=a", "session="+token); w.Code != 200 {
			t.Fatal(w.Code)
		}
	}
	if g, p, d, tc := cs.gets.Load(), cs.puts.Load(), cs.deletes.Load(), cs.touches.Load(); g != 10 || p != 0 || d != 0 || tc != 0 {
		t.Fatalf("10 read-only requests: %d gets, %d puts, %d deletes, %d touches; want 10, 0, 0, 0", g, p, d, tc)
	}
}

func TestBadTokensStartFreshSession(t *testing.T) {
	m, cs, _ := newManager(t, httpsession.Config{})
	h := m.Handler(api())
	unknown := strings.Repeat("A", 43)
	cases := map[string]struct {
		cookie   string
		storeGet bool // well-formed tokens are looked up, others never
	}{
		"empty":                {"session=", false},
		"10 KB":                {"session=" + strings.Repeat("a", 10<<10), false},
		"path traversal":       {"session=../../etc/passwd", false},
		"NUL":                  {"session=abc\x00def", false},
		"unicode":              {"session=sésame-ключ-🔑", false},
		"quote and semi":       {`session="a;b"`, false},
		"one char":             {"session=a", false},
		"42 chars":             {"session=" + strings.Repeat("A", 42), false},
		"well-formed, unknown": {"session=" + unknown, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cs.reset()
			w := do(t, h, "POST", "/put?key=k&value=v", tc.cookie)
			if w.Code != 200 {
				t.Fatalf("status %d", w.Code)
			}
			if got := cs.gets.Load(); (got == 1) != tc.storeGet {
				t.Fatalf("%d store gets", got)
			}
			c := sessionCookie(w)
			if c == nil || c.Value == unknown || len(c.Value) != 43 {
				t.Fatalf("want a fresh token, got %v", c)
			}
			if _, err := cs.Store.Get(context.Background(), httpsession.StoreKey(unknown)); !errors.Is(err, httpsession.ErrNotFound) {
				t.Fatal("a client-chosen token was adopted")
			}
		})
	}
}

func TestRenewKillsOldToken(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{})
	h := m.Handler(api())
	old := sessionCookie(do(t, h, "POST", "/put?key=cart&value=3", "")).Value
	w := do(t, h, "POST", "/login?user=ann", "session="+old)
	c := sessionCookie(w)
	if c == nil || c.Value == old {
		t.Fatal("login did not issue a new token")
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Fatal("renewal response is cacheable")
	}
	if w := do(t, h, "GET", "/get?key=cart", "session="+c.Value); w.Body.String() != "3" {
		t.Fatalf("data lost on renew: %q", w.Body.String())
	}
	if w := do(t, h, "GET", "/get?key=cart", "session="+old); w.Code != http.StatusNotFound {
		t.Fatal("the old token still works after Renew")
	}
}

func TestDestroy(t *testing.T) {
	m, cs, _ := newManager(t, httpsession.Config{})
	h := m.Handler(api())
	token := sessionCookie(do(t, h, "POST", "/login?user=bob", "")).Value
	w := do(t, h, "POST", "/logout", "session="+token)
	c := sessionCookie(w)
	if c == nil || c.Value != "" || c.MaxAge >= 0 {
		t.Fatalf("logout did not expire the cookie: %+v", c)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Fatal("logout response is cacheable")
	}
	if _, err := cs.Store.Get(context.Background(), httpsession.StoreKey(token)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatal("destroyed session is still in the store")
	}
	if w := do(t, h, "GET", "/get?key=user", "session="+token); w.Code != http.StatusNotFound {
		t.Fatal("the destroyed session's token still works")
	}
}

func TestDestroyThenSetStartsNewSession(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Destroy()
		if s.Has("user") || s.Token() != "" {
			t.Error("Destroy left data or a token behind")
		}
		s.Set("flash", "signed out")
	}))
	old := sessionCookie(do(t, m.Handler(api()), "POST", "/login?user=ann", "")).Value
	c := sessionCookie(do(t, h, "POST", "/", "session="+old))
	if c == nil || c.Value == "" || c.Value == old {
		t.Fatalf("want a new token after Destroy+Set, got %+v", c)
	}
	if w := do(t, m.Handler(api()), "GET", "/get?key=user", "session="+c.Value); w.Code != http.StatusNotFound {
		t.Fatal("old data leaked into the new session")
	}
}

func TestIdleTimeout(t *testing.T) {
	m, cs, clk := newManager(t, httpsession.Config{IdleTimeout: 30 * time.Minute})
	h := m.Handler(api())
	token := sessionCookie(do(t, h, "POST", "/put?key=a&value=1", "")).Value
	// Activity every 20 minutes keeps the session alive well past 30.
	for range 5 {
		clk.Add(20 * time.Minute)
		if w := do(t, h, "GET", "/get?key=a", "session="+token); w.Code != 200 {
			t.Fatalf("session expired despite activity: %d", w.Code)
		}
	}
	clk.Add(31 * time.Minute)
	if w := do(t, h, "GET", "/get?key=a", "session="+token); w.Code != http.StatusNotFound {
		t.Fatal("session outlived its idle timeout")
	}
	if _, err := cs.Store.Get(context.Background(), httpsession.StoreKey(token)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatal("idle-expired session was not deleted from the store")
	}
}

func TestTouchIsRateLimited(t *testing.T) {
	m, cs, clk := newManager(t, httpsession.Config{IdleTimeout: 10 * time.Minute}) // TouchInterval 1 min
	h := m.Handler(api())
	token := sessionCookie(do(t, h, "POST", "/put?key=a&value=1", "")).Value
	cs.reset()
	// 100 read-only requests, 10 s apart: 1000 s, so about 16 touches.
	for range 100 {
		clk.Add(10 * time.Second)
		if w := do(t, h, "GET", "/get?key=a", "session="+token); w.Code != 200 {
			t.Fatal(w.Code)
		}
	}
	if p := cs.puts.Load(); p != 0 {
		t.Fatalf("%d puts on read-only requests", p)
	}
	if n := cs.touches.Load(); n < 15 || n > 17 {
		t.Fatalf("%d touches for 1000 s of activity with a 1 min TouchInterval; want about 16", n)
	}
}

func TestAbsoluteLifetime(t *testing.T) {
	m, _, clk := newManager(t, httpsession.Config{Lifetime: time.Hour, IdleTimeout: 30 * time.Minute})
	h := m.Handler(api())
	token := sessionCookie(do(t, h, "POST", "/put?key=a&value=1", "")).Value
	for range 5 {
		clk.Add(11 * time.Minute)
		if w := do(t, h, "POST", "/put?key=a&value=2", "session="+token); sessionCookie(w) != nil {
			t.Fatal("an active session got a new token")
		}
	}
	clk.Add(6 * time.Minute) // 61 minutes after creation
	if w := do(t, h, "GET", "/get?key=a", "session="+token); w.Code != http.StatusNotFound {
		t.Fatal("activity extended the absolute lifetime")
	}
}

func TestKeyExpiry(t *testing.T) {
	m, _, clk := newManager(t, httpsession.Config{})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Set("otp", "123456")
		s.SetKeyExpiry("otp", 5*time.Minute)
		s.Set("user", "ann")
	}))
	token := sessionCookie(do(t, h, "POST", "/", "")).Value
	read := m.Handler(api())
	clk.Add(4 * time.Minute)
	if w := do(t, read, "GET", "/get?key=otp", "session="+token); w.Body.String() != "123456" {
		t.Fatal("key expired early")
	}
	clk.Add(2 * time.Minute)
	if w := do(t, read, "GET", "/get?key=otp", "session="+token); w.Code != http.StatusNotFound {
		t.Fatal("key outlived its expiry")
	}
	if w := do(t, read, "GET", "/get?key=user", "session="+token); w.Body.String() != "ann" {
		t.Fatal("the session went with the key")
	}
}

func TestPersistentCookie(t *testing.T) {
	m, _, clk := newManager(t, httpsession.Config{Lifetime: 2 * time.Hour, Transport: &httpsession.Cookie{Persist: true}})
	c := sessionCookie(do(t, m.Handler(api()), "POST", "/put?key=a&value=1", ""))
	if c.MaxAge != 7200 || !c.Expires.Equal(clk.Now().Add(2*time.Hour).Truncate(time.Second)) {
		t.Fatalf("persistent cookie: Max-Age %d, Expires %v", c.MaxAge, c.Expires)
	}
}

func TestSavedBeforeFirstByte(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Set("early", "1")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "body")
		s.Set("late", "2") // after the response started: saved at return
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var token string
	for _, c := range resp.Cookies() {
		token = c.Value
	}
	if resp.StatusCode != http.StatusCreated || token == "" {
		t.Fatalf("status %d, token %q: cookie must ride on an early response", resp.StatusCode, token)
	}
	read := m.Handler(api())
	for _, k := range []string{"early", "late"} {
		if w := do(t, read, "GET", "/get?key="+k, "session="+token); w.Code != 200 {
			t.Fatalf("%s change lost", k)
		}
	}
}

func TestLateNewSessionIsNotSaved(t *testing.T) {
	m, cs, _ := newManager(t, httpsession.Config{})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "body")
		httpsession.SessionFrom(r.Context()).Set("late", "1") // no token can reach the client now
	}))
	do(t, h, "GET", "/", "")
	if cs.puts.Load() != 0 {
		t.Fatal("saved a session whose token could never reach the client")
	}
}

func TestFlusherAndHijackerThroughWrapper(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{})
	mux := http.NewServeMux()
	mux.HandleFunc("/flush", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("a", "1")
		io.WriteString(w, "part1\n")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("ResponseController.Flush: %v", err)
		}
		w.(http.Flusher).Flush()
		io.WriteString(w, "part2\n")
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("b", "2")
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		buf.Flush()
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()
	c := client(t)
	if code, body := get(t, c, srv.URL+"/flush"); code != 200 || body != "part1\npart2" {
		t.Fatalf("flush: %d %q", code, body)
	}
	if _, ok := any(&struct{ http.ResponseWriter }{}).(http.Hijacker); ok {
		t.Fatal("test assumption broken")
	}
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "hijacked" {
		t.Fatalf("hijack body %q", body)
	}
}

func TestChiUse(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{})
	r := chi.NewRouter()
	r.Use(m.Handler)
	r.Post("/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("item", chi.URLParam(r, "id"))
	})
	r.Get("/items", func(w http.ResponseWriter, r *http.Request) {
		v, _ := httpsession.Get[string](httpsession.SessionFrom(r.Context()), "item")
		io.WriteString(w, v)
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	c := client(t)
	send(t, c, "POST", srv.URL+"/items/42")
	if _, body := get(t, c, srv.URL+"/items"); body != "42" {
		t.Fatalf("got %q", body)
	}
}

func TestFailedHandlerSavesNothing(t *testing.T) {
	m, cs, _ := newManager(t, httpsession.Config{})
	token := sessionCookie(do(t, m.Handler(api()), "POST", "/put?key=a&value=1", "")).Value
	cs.reset()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("a", "changed")
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		http.Error(w, "oops", http.StatusInternalServerError)
	}))
	do(t, h, "POST", "/500", "session="+token)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("the panic was swallowed")
			}
		}()
		do(t, h, "POST", "/panic", "session="+token)
	}()
	if cs.puts.Load() != 0 {
		t.Fatal("a failed handler's changes were saved")
	}
}

func TestStoreOutageIsCleanError(t *testing.T) {
	var handled error
	m, cs, _ := newManager(t, httpsession.Config{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		handled = err
		http.Error(w, "sessions unavailable", http.StatusServiceUnavailable)
	}})
	h := m.Handler(api())
	token := sessionCookie(do(t, h, "POST", "/put?key=a&value=1", "")).Value
	outage := errors.New("connection refused")
	cs.fail.Store(&outage)
	for _, target := range []string{"/get?key=a", "/put?key=a&value=2"} {
		handled = nil
		w := do(t, h, "POST", target, "session="+token)
		if w.Code != http.StatusServiceUnavailable || !errors.Is(handled, outage) {
			t.Fatalf("%s: %d, handler saw %v", target, w.Code, handled)
		}
	}
	// A new visitor's first save fails too, with no cookie for an unsaved session.
	w := do(t, h, "POST", "/put?key=a&value=2", "")
	if w.Code != http.StatusServiceUnavailable || sessionCookie(w) != nil || strings.Contains(w.Body.String(), "ok") {
		t.Fatalf("save failure: %d, cookie %v, body %q", w.Code, sessionCookie(w), w.Body.String())
	}
}

func TestTooLarge(t *testing.T) {
	var handled error
	m, _, _ := newManager(t, httpsession.Config{MaxSize: 1000, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		handled = err
		http.Error(w, "too large", http.StatusRequestEntityTooLarge)
	}})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("blob", strings.Repeat("x", 2000))
	}))
	w := do(t, h, "POST", "/", "")
	if w.Code != http.StatusRequestEntityTooLarge || !errors.Is(handled, httpsession.ErrTooLarge) {
		t.Fatalf("%d, %v", w.Code, handled)
	}
}

// A logout that happens while a slow request is in flight stays a logout.
func TestNoResurrection(t *testing.T) {
	m, cs, _ := newManager(t, httpsession.Config{})
	token := sessionCookie(do(t, m.Handler(api()), "POST", "/login?user=ann", "")).Value
	loaded, release := make(chan struct{}), make(chan struct{})
	slow := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(loaded)
		<-release
		httpsession.SessionFrom(r.Context()).Set("cart", "full")
	}))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		do(t, slow, "POST", "/", "session="+token)
	}()
	<-loaded
	do(t, m.Handler(api()), "POST", "/logout", "session="+token)
	close(release)
	wg.Wait()
	if _, err := cs.Store.Get(context.Background(), httpsession.StoreKey(token)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatal("a slow request brought a destroyed session back")
	}
}

func TestConfigErrors(t *testing.T) {
	st := newMemStore(t)
	cases := map[string]httpsession.Config{
		"no store":                  {},
		"__Host- with domain":       {Store: st, Transport: &httpsession.Cookie{Name: "__Host-s", Domain: "example.com"}},
		"__Host- with path":         {Store: st, Transport: &httpsession.Cookie{Name: "__Host-s", Path: "/app"}},
		"short key":                 {Store: st, Transport: &httpsession.Cookie{Keys: []httpsession.Key{{Hash: []byte("short")}}}},
		"bad block key":             {Store: st, Transport: &httpsession.Cookie{Keys: []httpsession.Key{{Hash: make([]byte, 32), Block: make([]byte, 7)}}}},
		"negative lifetime":         {Store: st, Lifetime: -time.Second},
		"SameSite=None, not Secure": {Store: st, Transport: &httpsession.Cookie{SameSite: http.SameSiteNoneMode}},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			m, err := httpsession.New(cfg)
			if err == nil || m != nil {
				t.Fatalf("New accepted a bad config")
			}
			if !strings.HasPrefix(err.Error(), "httpsession: ") {
				t.Fatalf("error %q does not name the package", err)
			}
		})
	}
}

func TestHostPrefixForcesSecure(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{Transport: &httpsession.Cookie{Name: "__Host-sid"}})
	w := do(t, m.Handler(api()), "POST", "/put?key=a&value=1", "")
	var c *http.Cookie
	for _, x := range w.Result().Cookies() {
		c = x
	}
	if c == nil || c.Name != "__Host-sid" || !c.Secure || c.Path != "/" || c.Domain != "" {
		t.Fatalf("__Host- cookie: %+v", c)
	}
}

func TestSignedCookiesAndKeyRotation(t *testing.T) {
	oldKey := httpsession.Key{Hash: []byte(strings.Repeat("o", 32))}
	newKey := httpsession.Key{Hash: []byte(strings.Repeat("n", 32)), Block: []byte(strings.Repeat("b", 32))}
	st := newMemStore(t)
	before, _, _ := newManager(t, httpsession.Config{Store: st, Transport: &httpsession.Cookie{Keys: []httpsession.Key{oldKey}}})
	signed := sessionCookie(do(t, before.Handler(api()), "POST", "/put?key=a&value=1", "")).Value
	if len(signed) <= 43 {
		t.Fatal("cookie is not signed")
	}
	after, cs, _ := newManager(t, httpsession.Config{Store: st, Transport: &httpsession.Cookie{Keys: []httpsession.Key{newKey, oldKey}}})
	h := after.Handler(api())
	if w := do(t, h, "GET", "/get?key=a", "session="+signed); w.Body.String() != "1" {
		t.Fatal("a cookie signed with a rotated-out key was refused")
	}
	cs.reset()
	tampered := signed[:len(signed)-2] + "xx"
	if w := do(t, h, "GET", "/get?key=a", "session="+tampered); w.Code != http.StatusNotFound || cs.gets.Load() != 0 {
		t.Fatalf("tampered cookie: %d, %d store gets", w.Code, cs.gets.Load())
	}
}

func TestHeaderTransport(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{Transport: transport.Header{}})
	h := m.Handler(api())
	w := do(t, h, "POST", "/put?key=a&value=1", "")
	token := w.Header().Get("Session-Token")
	if len(token) != 43 || sessionCookie(w) != nil {
		t.Fatalf("token header %q, cookie %v", token, sessionCookie(w))
	}
	r := httptest.NewRequest("GET", "/get?key=a", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Body.String() != "1" || rec.Header().Get("Vary") != "Authorization" {
		t.Fatalf("bearer request: %q, Vary %q", rec.Body.String(), rec.Header().Get("Vary"))
	}
}

func TestFormTokenIgnoredByDefault(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{})
	h := m.Handler(api())
	token := sessionCookie(do(t, h, "POST", "/put?key=a&value=1", "")).Value
	r := httptest.NewRequest("POST", "/get?key=a&session="+token, strings.NewReader("session="+token))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusNotFound {
		t.Fatal("a form or query token was accepted by the cookie transport")
	}

}

func TestFormTransport(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{Transport: transport.Form{Query: true}})
	h := m.Handler(api())
	token := do(t, h, "POST", "/put?key=a&value=1", "").Header().Get("Session-Token")
	if len(token) != 43 {
		t.Fatalf("token header %q", token)
	}
	if w := do(t, h, "GET", "/get?key=a&session="+token, ""); w.Body.String() != "1" {
		t.Fatalf("query token: %d %q", w.Code, w.Body.String())
	}
	r := httptest.NewRequest("POST", "/get?key=a", strings.NewReader("session="+token))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Body.String() != "1" {
		t.Fatalf("form token: %d %q", rec.Code, rec.Body.String())
	}
}

func TestGenericGet(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{})
	s, err := m.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	s.Set("i64", int64(7))
	s.Set("f", 7.0)
	s.Set("frac", 7.5)
	s.Set("neg", -1)
	s.Set("when", "2026-11-21T10:00:00Z")
	if v, ok := httpsession.Get[int](s, "i64"); !ok || v != 7 {
		t.Error("int64 -> int")
	}
	if v, ok := httpsession.Get[int](s, "f"); !ok || v != 7 {
		t.Error("whole float64 -> int")
	}
	if _, ok := httpsession.Get[int](s, "frac"); ok {
		t.Error("7.5 -> int must fail")
	}
	if _, ok := httpsession.Get[uint](s, "neg"); ok {
		t.Error("-1 -> uint must fail")
	}
	if v, ok := httpsession.Get[time.Time](s, "when"); !ok || v.Year() != 2026 {
		t.Error("RFC 3339 string -> time.Time")
	}
	if _, ok := httpsession.Get[string](s, "missing"); ok {
		t.Error("missing key")
	}
}

func TestLoadAndSaveOutsideRequests(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{})
	ctx := context.Background()
	s, err := m.Load(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	s.Set("job", "done")
	if err := m.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	again, err := m.Load(ctx, s.Token())
	if err != nil || again.IsNew() || again.Get("job") != "done" {
		t.Fatalf("reload: %v, new %v, %v", err, again.IsNew(), again.Get("job"))
	}
}

// panicStore panics in Get and Put, as a broken driver might.
type panicStore struct{ httpsession.Store }

func (panicStore) Get(context.Context, string) (httpsession.Record, error) { panic("driver bug") }

func (panicStore) Put(context.Context, string, httpsession.Record) (uint64, error) {
	panic("driver bug")
}

// A panicking store costs the request a clean error response through the
// error handler, not the connection.
func TestStorePanicIsCleanError(t *testing.T) {
	var handled []error
	m, _, _ := newManager(t, httpsession.Config{Store: panicStore{newMemStore(t)}, ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		handled = append(handled, err)
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	}})
	h := m.Handler(api())
	load := do(t, h, "GET", "/get?key=a", "session="+strings.Repeat("A", 43))
	save := do(t, h, "POST", "/put?key=a&value=1", "")
	if load.Code != http.StatusServiceUnavailable || save.Code != http.StatusServiceUnavailable || sessionCookie(save) != nil {
		t.Fatalf("load %d, save %d, cookie %v", load.Code, save.Code, sessionCookie(save))
	}
	for _, err := range handled {
		if !strings.Contains(err.Error(), "panic") || !strings.Contains(err.Error(), "driver bug") {
			t.Errorf("error %q does not say what happened", err)
		}
	}
	if len(handled) != 2 {
		t.Fatalf("error handler called %d times", len(handled))
	}
}

// Rotating from signing only to signing and encryption with the same hash
// key keeps the sessions of cookies issued before.
func TestKeyRotationToEncryption(t *testing.T) {
	hash := []byte(strings.Repeat("h", 32))
	st := newMemStore(t)
	before, _, _ := newManager(t, httpsession.Config{Store: st, Transport: &httpsession.Cookie{Keys: []httpsession.Key{{Hash: hash}}}})
	cookie := sessionCookie(do(t, before.Handler(api()), "POST", "/put?key=a&value=1", "")).Value
	after, _, _ := newManager(t, httpsession.Config{Store: st, Transport: &httpsession.Cookie{Keys: []httpsession.Key{
		{Hash: hash, Block: []byte(strings.Repeat("b", 32))}, {Hash: hash},
	}}})
	if w := do(t, after.Handler(api()), "GET", "/get?key=a", "session="+cookie); w.Body.String() != "1" {
		t.Fatalf("session lost across the rotation to encryption: %d %q", w.Code, w.Body.String())
	}
}

// slowStore answers Get only when the caller's context ends, as a store
// that does not answer in time.
type slowStore struct{ httpsession.Store }

func (slowStore) Get(ctx context.Context, _ string) (httpsession.Record, error) {
	<-ctx.Done()
	return httpsession.Record{}, ctx.Err()
}

// A store call that runs out of StoreTimeout is the store being
// unavailable: 503 with Retry-After from the default ErrorHandler, not 500.
func TestStoreTimeoutIsUnavailable(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{Store: slowStore{newMemStore(t)}, StoreTimeout: 20 * time.Millisecond})
	w := do(t, m.Handler(api()), "GET", "/get?key=a", "session="+strings.Repeat("A", 43))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("store timeout answered %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
}
