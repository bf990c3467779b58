package httpsession_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/codec"
	"github.com/httpsession/httpsession/sessions"
	"github.com/httpsession/httpsession/store/boltstore"
)

// The request-path features are tested over real HTTP on these stores.
func requestStores() map[string]func(t *testing.T) httpsession.Store {
	return map[string]func(t *testing.T) httpsession.Store{
		"memstore": func(t *testing.T) httpsession.Store { return newMemStore(t) },
		"boltstore": func(t *testing.T) httpsession.Store {
			s, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

// testServer is one Manager on one store behind an httptest server.
type testServer struct {
	m   *httpsession.Manager
	cs  *countingStore
	clk *clock
	url string
}

// eachStore runs fn with a server of app on every request store.
func eachStore(t *testing.T, cfg httpsession.Config, app func(m *httpsession.Manager) http.Handler, fn func(t *testing.T, ts *testServer)) {
	for name, newStore := range requestStores() {
		t.Run(name, func(t *testing.T) {
			cfg := cfg
			cfg.Store = newStore(t)
			m, cs, clk := newManager(t, cfg)
			srv := httptest.NewServer(m.Handler(app(m)))
			// A panicking handler is part of some tests; keep its stack
			// trace out of the test log.
			srv.Config.ErrorLog = log.New(io.Discard, "", 0)
			t.Cleanup(srv.Close)
			fn(t, &testServer{m, cs, clk, srv.URL})
		})
	}
}

// reply is one response as the tests look at it.
type reply struct {
	code   int
	body   string
	cookie *http.Cookie // the "session" cookie it sets, if any
	header http.Header
}

// call sends one request with the given Cookie header and no cookie jar.
func (ts *testServer) call(t *testing.T, method, path, cookie string) reply {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	rep := reply{code: resp.StatusCode, body: strings.TrimSpace(string(b)), header: resp.Header}
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			rep.cookie = c
		}
	}
	return rep
}

// tokenFrom returns the token a reply sets, failing if it sets none.
func tokenFrom(t *testing.T, rep reply) string {
	t.Helper()
	if rep.cookie == nil || rep.cookie.Value == "" {
		t.Fatalf("no session cookie: %d %q", rep.code, rep.body)
	}
	return rep.cookie.Value
}

// v2app serves the request-path features: every route answers with the
// session's status after its work, then what it was asked for.
func v2app(m *httpsession.Manager) http.Handler {
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, s *httpsession.Session, extra ...any) {
		fmt.Fprintln(w, append([]any{s.Status()}, extra...)...)
	}
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Renew()
		s.SetOwner(r.FormValue("user"))
		s.Set("user", r.FormValue("user"))
		if r.FormValue("remember") == "1" {
			s.SetLifetime(30*24*time.Hour, true)
		}
		answer(w, s)
	})
	mux.HandleFunc("/renew", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Renew()
		answer(w, s)
	})
	mux.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		answer(w, s, s.Get("user"), s.Get("cart"))
	})
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Set(r.FormValue("key"), r.FormValue("value"))
		answer(w, s)
	})
	mux.HandleFunc("/save", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Set(r.FormValue("key"), r.FormValue("value"))
		err1 := m.Save(r.Context(), s)
		err2 := m.Save(r.Context(), s)
		if err1 != nil || err2 != nil {
			answer(w, s, "save:", err1, err2)
			return
		}
		http.Redirect(w, r, "/state", http.StatusSeeOther)
	})
	mux.HandleFunc("/save-late", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		io.WriteString(w, "started\n")
		http.NewResponseController(w).Flush()
		s.Set(r.FormValue("key"), r.FormValue("value"))
		fmt.Fprintln(w, "save:", m.Save(r.Context(), s))
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Destroy()
		answer(w, s)
	})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		switch r.FormValue("do") {
		case "destroy":
			s.Destroy()
		case "renew":
			s.Renew()
		}
		s.Set("half", "done")
		if r.FormValue("panic") == "1" {
			panic("handler bug")
		}
		http.Error(w, "failed", http.StatusInternalServerError)
	})
	return mux
}

// Remember me: a persistent cookie and the session's own lifetime, both
// kept across Renew; without it a browser-session cookie and the
// Manager's lifetime. The idle timeout applies to both.
func TestRememberMe(t *testing.T) {
	cfg := httpsession.Config{Lifetime: 12 * time.Hour, IdleTimeout: time.Hour}
	eachStore(t, cfg, v2app, func(t *testing.T, ts *testServer) {
		month := 30 * 24 * time.Hour
		remember := ts.call(t, "POST", "/login?user=ann&remember=1", "")
		plain := ts.call(t, "POST", "/login?user=bob", "")
		if c := remember.cookie; c == nil || c.MaxAge != int(month/time.Second) || !c.Expires.Equal(ts.clk.Now().Add(month).Truncate(time.Second)) {
			t.Fatalf("remember-me cookie: %+v", c)
		}
		if c := plain.cookie; c == nil || c.MaxAge != 0 || !c.Expires.IsZero() {
			t.Fatalf("plain login cookie: %+v", c)
		}
		annTok, bobTok := tokenFrom(t, remember), tokenFrom(t, plain)
		info, err := sessions.Inspect(t.Context(), ts.m, httpsession.StoreKey(annTok))
		if err != nil || !info.Deadline.Equal(info.Created.Add(month)) {
			t.Fatalf("stored deadline %v for a session created %v (%v)", info.Deadline, info.Created, err)
		}

		// Both survive Renew: the remembered session gets a persistent
		// cookie and a month again, the plain one a session cookie.
		ts.clk.Add(time.Minute)
		rr := ts.call(t, "POST", "/renew", "session="+annTok)
		if c := rr.cookie; c == nil || c.MaxAge != int(month/time.Second) {
			t.Fatalf("remember-me cookie after Renew: %+v", c)
		}
		pr := ts.call(t, "POST", "/renew", "session="+bobTok)
		if c := pr.cookie; c == nil || c.MaxAge != 0 {
			t.Fatalf("plain cookie after Renew: %+v", c)
		}
		annTok, bobTok = tokenFrom(t, rr), tokenFrom(t, pr)

		// Active every 50 minutes for 13 hours: the remembered session
		// outlives Config.Lifetime, the plain one does not.
		for i := range 16 {
			ts.clk.Add(50 * time.Minute)
			if got := ts.call(t, "GET", "/state", "session="+annTok).body; got != "unmodified ann <nil>" {
				t.Fatalf("remembered session after %d×50 min: %q", i+1, got)
			}
			got := ts.call(t, "GET", "/state", "session="+bobTok).body
			if alive := got == "unmodified bob <nil>"; alive != (i < 14) {
				t.Fatalf("plain session after %d×50 min (lifetime 12 h): %q", i+1, got)
			}
		}
		// The idle timeout still ends the remembered one.
		ts.clk.Add(61 * time.Minute)
		if got := ts.call(t, "GET", "/state", "session="+annTok).body; got != "new <nil> <nil>" {
			t.Fatalf("remembered session after an idle hour: %q", got)
		}
	})
}

// SetLifetime with d <= 0 goes back to the Manager's lifetime and cookie.
func TestSetLifetimeBack(t *testing.T) {
	m, _, clk := newManager(t, httpsession.Config{Lifetime: time.Hour})
	s, err := m.Load(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	s.SetLifetime(48*time.Hour, true)
	if d := s.ExpiresAt().Sub(clk.Now()); d != 48*time.Hour {
		t.Fatalf("expires in %v", d)
	}
	s.SetLifetime(0, true)
	if d := s.ExpiresAt().Sub(clk.Now()); d != time.Hour {
		t.Fatalf("after SetLifetime(0): expires in %v", d)
	}
}

// Save inside a handler sends the token on the response it has not
// started, and a second Save writes nothing; after the response started a
// Save that needs a token fails and says so.
func TestSaveInsideHandler(t *testing.T) {
	eachStore(t, httpsession.Config{}, v2app, func(t *testing.T, ts *testServer) {
		// http.DefaultClient follows the redirect without the cookie; the
		// first response is what matters, so stop there.
		req, _ := http.NewRequest("POST", ts.url+"/save?key=cart&value=book", nil)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var cookies []*http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "session" {
				cookies = append(cookies, c)
			}
		}
		if resp.StatusCode != http.StatusSeeOther || len(cookies) != 1 {
			t.Fatalf("redirect after Save: %d with %d session cookies", resp.StatusCode, len(cookies))
		}
		if n := ts.cs.puts.Load(); n != 1 {
			t.Fatalf("two Saves and the commit wrote %d times, want 1", n)
		}
		tok := cookies[0].Value
		if got := ts.call(t, "GET", "/state?", "session="+tok).body; got != "unmodified <nil> book" {
			t.Fatalf("after the redirect: %q", got)
		}

		// A stored session can still be saved after the response started.
		ts.cs.reset()
		late := ts.call(t, "POST", "/save-late?key=user&value=ann", "session="+tok)
		if late.body != "started\nsave: <nil>" || late.cookie != nil || ts.cs.puts.Load() != 1 {
			t.Fatalf("late Save of a stored session: %q, cookie %v, %d puts", late.body, late.cookie, ts.cs.puts.Load())
		}
		// A new one cannot: its token could never reach the client.
		ts.cs.reset()
		late = ts.call(t, "POST", "/save-late?key=user&value=ann", "")
		if !strings.Contains(late.body, "response has started") || late.cookie != nil || ts.cs.puts.Load() != 0 {
			t.Fatalf("late Save of a new session: %q, cookie %v, %d puts", late.body, late.cookie, ts.cs.puts.Load())
		}
	})
}

// After a login, a request that still carries the pre-login token gets no
// data, no new session and no Set-Cookie for RenewGrace; the login session
// stays logged in. Afterwards the old token is unknown.
func TestRenewGrace(t *testing.T) {
	eachStore(t, httpsession.Config{}, v2app, func(t *testing.T, ts *testServer) {
		old := tokenFrom(t, ts.call(t, "POST", "/put?key=cart&value=book", ""))
		login := ts.call(t, "POST", "/login?user=ann", "session="+old)
		tok := tokenFrom(t, login)

		for _, path := range []string{"/state", "/put?key=user&value=mallory", "/login?user=mallory", "/logout", "/save?key=x&value=y"} {
			rep := ts.call(t, "POST", path, "session="+old)
			if rep.cookie != nil || !strings.HasPrefix(rep.body, "interrupted") {
				t.Fatalf("%s with the pre-login token: %d %q, cookie %v", path, rep.code, rep.body, rep.cookie)
			}
			if strings.Contains(rep.body, "book") || strings.Contains(rep.body, "ann") {
				t.Fatalf("%s: the pre-login token reached data: %q", path, rep.body)
			}
		}
		if rep := ts.call(t, "POST", "/save?key=x&value=y", "session="+old); !strings.Contains(rep.body, httpsession.ErrInterrupted.Error()) {
			t.Fatalf("Save with the pre-login token: %q", rep.body)
		}
		if got := ts.call(t, "GET", "/state", "session="+tok).body; got != "unmodified ann book" {
			t.Fatalf("the login session after requests with the old token: %q", got)
		}

		// The window closes: the old token is unknown, a fresh session.
		ts.clk.Add(31 * time.Second)
		rep := ts.call(t, "POST", "/put?key=k&value=v", "session="+old)
		if rep.body != "modified" || rep.cookie == nil || rep.cookie.Value == old || rep.cookie.Value == tok {
			t.Fatalf("old token after the grace window: %q, cookie %v", rep.body, rep.cookie)
		}
		if _, err := ts.cs.Store.Get(t.Context(), httpsession.StoreKey(old)); !errors.Is(err, httpsession.ErrNotFound) {
			t.Fatalf("the grace marker outlived its window: %v", err)
		}
	})
}

// With RenewGrace off the old token is unknown at once.
func TestRenewGraceOff(t *testing.T) {
	eachStore(t, httpsession.Config{RenewGrace: -1}, v2app, func(t *testing.T, ts *testServer) {
		old := tokenFrom(t, ts.call(t, "POST", "/put?key=cart&value=book", ""))
		tokenFrom(t, ts.call(t, "POST", "/login?user=ann", "session="+old))
		if got := ts.call(t, "GET", "/state", "session="+old).body; got != "new <nil> <nil>" {
			t.Fatalf("old token without a grace window: %q", got)
		}
	})
}

// A request that loaded the session before the login and writes after it
// is interrupted: no Set-Cookie, its change dropped, the login stands.
func TestInFlightRequestDuringLogin(t *testing.T) {
	loaded, release := make(chan struct{}), make(chan struct{})
	app := func(m *httpsession.Manager) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", v2app(m))
		mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
			s := httpsession.SessionFrom(r.Context())
			loaded <- struct{}{}
			<-release
			s.Set("cart", "stale")
			io.WriteString(w, s.Status().String()) // commits here
			fmt.Fprint(w, " ", s.Status())
		})
		return mux
	}
	eachStore(t, httpsession.Config{}, app, func(t *testing.T, ts *testServer) {
		old := tokenFrom(t, ts.call(t, "POST", "/put?key=cart&value=book", ""))
		var slow reply
		var wg sync.WaitGroup
		wg.Go(func() { slow = ts.call(t, "POST", "/slow", "session="+old) })
		<-loaded
		tok := tokenFrom(t, ts.call(t, "POST", "/login?user=ann", "session="+old))
		release <- struct{}{}
		wg.Wait()
		if slow.cookie != nil || slow.body != "modified interrupted" {
			t.Fatalf("in-flight request: %q, cookie %v", slow.body, slow.cookie)
		}
		if got := ts.call(t, "GET", "/state", "session="+tok).body; got != "unmodified ann book" {
			t.Fatalf("login session: %q", got)
		}
	})
}

// Destroy, and the end of the old record after Renew, happen even when the
// handler answers 5xx or panics; its other changes are dropped.
func TestSecurityActionsSurviveFailure(t *testing.T) {
	eachStore(t, httpsession.Config{}, v2app, func(t *testing.T, ts *testServer) {
		for _, c := range []struct{ do, panic string }{{"destroy", "0"}, {"destroy", "1"}, {"renew", "0"}, {"renew", "1"}} {
			tok := tokenFrom(t, ts.call(t, "POST", "/login?user=ann", ""))
			ts.cs.reset()
			path := "/fail?do=" + c.do + "&panic=" + c.panic
			if c.panic == "1" {
				req, _ := http.NewRequest("POST", ts.url+path, nil)
				req.Header.Set("Cookie", "session="+tok)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
					t.Fatalf("%s: a panicking handler answered %d", path, resp.StatusCode)
				}
			} else if rep := ts.call(t, "POST", path, "session="+tok); rep.code != 500 || rep.cookie == nil || rep.cookie.MaxAge >= 0 {
				t.Fatalf("%s: %d, cookie %+v: want 500 clearing the cookie", path, rep.code, rep.cookie)
			}
			if _, err := ts.cs.Store.Get(t.Context(), httpsession.StoreKey(tok)); !errors.Is(err, httpsession.ErrNotFound) {
				t.Fatalf("%s: the old record is still there (%v)", path, err)
			}
			if n := ts.cs.puts.Load(); n != 0 {
				t.Fatalf("%s: %d writes; a failed handler's changes must be dropped", path, n)
			}
			if got := ts.call(t, "GET", "/state", "session="+tok).body; got != "new <nil> <nil>" {
				t.Fatalf("%s: the old token still reaches %q", path, got)
			}
		}
	})
}

// Status says what happened to the session.
func TestStatus(t *testing.T) {
	eachStore(t, httpsession.Config{}, v2app, func(t *testing.T, ts *testServer) {
		check := func(path, cookie, want string) reply {
			t.Helper()
			rep := ts.call(t, "POST", path, cookie)
			if !strings.HasPrefix(rep.body, want) {
				t.Fatalf("%s: %q, want status %s", path, rep.body, want)
			}
			return rep
		}
		check("/state", "", "new")
		tok := tokenFrom(t, check("/put?key=a&value=1", "", "modified"))
		check("/state", "session="+tok, "unmodified")
		tok2 := tokenFrom(t, check("/renew", "session="+tok, "renewed"))
		check("/state", "session="+tok, "interrupted")
		check("/logout", "session="+tok2, "destroyed")
	})
	if s := httpsession.Status(42).String(); s != "Status(42)" {
		t.Fatal(s)
	}
}

// Two Managers with their own cookies on one chi chain both load and save;
// each handler reaches either session, SessionFrom the innermost.
func TestSeveralManagers(t *testing.T) {
	for name, newStore := range requestStores() {
		t.Run(name, func(t *testing.T) {
			auth, _, _ := newManager(t, httpsession.Config{Store: newStore(t), Transport: &httpsession.Cookie{Name: "auth"}})
			prefs, _, _ := newManager(t, httpsession.Config{Store: newStore(t), Transport: &httpsession.Cookie{Name: "prefs", Persist: true}, Lifetime: 365 * 24 * time.Hour})
			r := chi.NewRouter()
			r.Use(auth.Handler, prefs.Handler)
			r.Post("/set", func(w http.ResponseWriter, r *http.Request) {
				if httpsession.SessionFrom(r.Context()) != prefs.From(r.Context()) || auth.From(r.Context()) == prefs.From(r.Context()) {
					http.Error(w, "SessionFrom is not the innermost session", 500)
					return
				}
				auth.From(r.Context()).Set("user", "ann")
				prefs.From(r.Context()).Set("theme", "dark")
			})
			r.Post("/logout", func(w http.ResponseWriter, r *http.Request) { auth.From(r.Context()).Destroy() })
			r.Get("/get", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, auth.From(r.Context()).Get("user"), " ", prefs.From(r.Context()).Get("theme"))
			})
			srv := httptest.NewServer(r)
			defer srv.Close()
			c := client(t)
			if code, body := send(t, c, "POST", srv.URL+"/set"); code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			if _, body := get(t, c, srv.URL+"/get"); body != "ann dark" {
				t.Fatalf("both sessions: %q", body)
			}
			send(t, c, "POST", srv.URL+"/logout")
			if _, body := get(t, c, srv.URL+"/get"); body != "<nil> dark" {
				t.Fatalf("after logging out of one: %q", body)
			}
		})
	}
}

// Partitioned cookies (CHIPS) carry the attribute and must be Secure.
func TestPartitionedCookie(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{Transport: &httpsession.Cookie{Partitioned: true, Secure: true}})
	w := do(t, m.Handler(api()), "POST", "/put?key=a&value=1", "")
	if h := w.Header().Get("Set-Cookie"); !strings.Contains(h, "; Partitioned") || !strings.Contains(h, "; Secure") {
		t.Fatalf("Set-Cookie: %s", h)
	}
	if _, err := httpsession.New(httpsession.Config{Store: newMemStore(t), Transport: &httpsession.Cookie{Partitioned: true}}); err == nil {
		t.Fatal("a Partitioned cookie without Secure was accepted")
	}
}

// Duplicate session cookies: malformed ones are skipped, and at most three
// signatures are checked.
func TestDuplicateCookies(t *testing.T) {
	keys := []httpsession.Key{{Hash: []byte(strings.Repeat("k", 32))}}
	forger, _, _ := newManager(t, httpsession.Config{Transport: &httpsession.Cookie{Keys: []httpsession.Key{{Hash: []byte(strings.Repeat("f", 32))}}}})
	forged := sessionCookie(do(t, forger.Handler(api()), "POST", "/put?key=a&value=1", "")).Value
	for _, signed := range []bool{false, true} {
		cfg := httpsession.Config{}
		if signed {
			cfg.Transport = &httpsession.Cookie{Keys: keys}
		}
		eachStore(t, cfg, func(*httpsession.Manager) http.Handler { return api() }, func(t *testing.T, ts *testServer) {
			valid := tokenFrom(t, ts.call(t, "POST", "/put?key=user&value=ann", ""))
			junk := strings.Repeat("session=junk!; ", 250)
			for name, c := range map[string]struct {
				header string
				found  bool
			}{
				"junk first":        {"session=junk; session=" + valid, true},
				"250 junk":          {junk + "session=" + valid, true},
				"two forged":        {"session=" + forged + "; session=" + forged + "; session=" + valid, true},
				"three forged":      {strings.Repeat("session="+forged+"; ", 3) + "session=" + valid, !signed},
				"valid then forged": {"session=" + valid + "; session=" + forged, true},
			} {
				if !signed && strings.Contains(name, "forged") {
					c.found = true // bare tokens: a forged signed value is malformed
				}
				got := ts.call(t, "GET", "/get?key=user", c.header)
				if (got.body == "ann") != c.found {
					t.Errorf("signed %v, %s: %d %q", signed, name, got.code, got.body)
				}
			}
		})
	}
}

// Get[T] brings back what was stored, whatever the codec.
func TestGetAcrossCodecs(t *testing.T) {
	app := func(*httpsession.Manager) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s := httpsession.SessionFrom(r.Context())
			if r.Method == "POST" {
				s.Set("bytes", []byte{0, 1, 255})
				s.Set("strings", []string{"a", "b"})
				s.Set("map", map[string]int{"a": 1})
				return
			}
			b, ok1 := httpsession.Get[[]byte](s, "bytes")
			ss, ok2 := httpsession.Get[[]string](s, "strings")
			mm, ok3 := httpsession.Get[map[string]int](s, "map")
			fmt.Fprint(w, ok1, ok2, ok3, b, ss, mm)
		})
	}
	for _, name := range []string{"gob", "json", "cbor"} {
		c, _ := codec.ByName(name)
		t.Run(name, func(t *testing.T) {
			eachStore(t, httpsession.Config{Codec: c}, app, func(t *testing.T, ts *testServer) {
				tok := tokenFrom(t, ts.call(t, "POST", "/", ""))
				if got := ts.call(t, "GET", "/", "session="+tok).body; got != "true true true [0 1 255] [a b] map[a:1]" {
					t.Fatalf("%s: %q", name, got)
				}
			})
		})
	}
}

// Config.AllowCreate is asked before a new session is first saved; its
// error reaches the ErrorHandler, which answers 429 with Retry-After for
// ErrTooManySessions.
// Stored sessions and logins are not asked about.
func TestAllowCreate(t *testing.T) {
	var mu sync.Mutex
	asked := 0
	cfg := httpsession.Config{AllowCreate: func(r *http.Request) error {
		mu.Lock()
		defer mu.Unlock()
		if asked++; asked > 2 {
			return fmt.Errorf("client %s: %w", r.RemoteAddr, httpsession.ErrTooManySessions)
		}
		return nil
	}}
	eachStore(t, cfg, v2app, func(t *testing.T, ts *testServer) {
		mu.Lock()
		asked = 0
		mu.Unlock()
		ts.call(t, "GET", "/state", "") // saves nothing: not asked
		a := tokenFrom(t, ts.call(t, "POST", "/put?key=a&value=1", ""))
		tokenFrom(t, ts.call(t, "POST", "/put?key=a&value=1", ""))
		if rep := ts.call(t, "POST", "/put?key=a&value=1", ""); rep.code != http.StatusTooManyRequests || rep.cookie != nil || rep.header.Get("Retry-After") != "60" {
			t.Fatalf("third new session: %d, cookie %v, Retry-After %q", rep.code, rep.cookie, rep.header.Get("Retry-After"))
		}
		if rep := ts.call(t, "POST", "/login?user=ann", "session="+a); rep.code != 200 || rep.cookie == nil {
			t.Fatalf("login of a stored session: %d", rep.code)
		}
		if asked != 3 {
			t.Fatalf("AllowCreate asked %d times, want 3", asked)
		}
	})
}

// headerTransport is a Transport of the application's own.
type headerTransport struct{}

func (headerTransport) ReadToken(r *http.Request) string { return r.Header.Get("X-Session") }
func (headerTransport) WriteToken(w http.ResponseWriter, _ *http.Request, token string, _ time.Time) {
	w.Header().Set("X-Session", token)
}
func (headerTransport) ClearToken(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Session", "")
}
func (headerTransport) Vary() string { return "X-Session" }

// Any Transport declares the header responses vary on.
func TestTransportVary(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{Transport: headerTransport{}})
	w := do(t, m.Handler(api()), "POST", "/put?key=a&value=1", "")
	if w.Header().Get("Vary") != "X-Session" || len(w.Header().Get("X-Session")) != 43 {
		t.Fatalf("Vary %q, token %q", w.Header().Get("Vary"), w.Header().Get("X-Session"))
	}
}

// Manager.Save refuses a session of another Manager.
func TestSaveOtherManagersSession(t *testing.T) {
	a, _, _ := newManager(t, httpsession.Config{})
	b, _, _ := newManager(t, httpsession.Config{})
	s, _ := a.Load(context.Background(), "")
	s.Set("k", "v")
	if err := b.Save(context.Background(), s); err == nil {
		t.Fatal("saved through the wrong Manager")
	}
}
