package memstore_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memstore"
)

// floodApp is an application with a login, an anonymous put and a read.
func floodApp(t *testing.T, store httpsession.Store) http.Handler {
	t.Helper()
	m, err := httpsession.New(httpsession.Config{Store: store, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Renew()
		s.SetOwner(r.URL.Query().Get("user"))
		s.Set("user", r.URL.Query().Get("user"))
	})
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("v", "some anonymous data")
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		u, _ := httpsession.Get[string](httpsession.SessionFrom(r.Context()), "user")
		io.WriteString(w, u)
	})
	return m.Handler(mux)
}

func serve(h http.Handler, path string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func login(t *testing.T, h http.Handler, user string) *http.Cookie {
	t.Helper()
	w := serve(h, "/login?user="+user)
	if w.Code != http.StatusOK || len(w.Result().Cookies()) == 0 {
		t.Fatalf("login %s: %d, cookies %v", user, w.Code, w.Result().Cookies())
	}
	return w.Result().Cookies()[0]
}

func whoami(h http.Handler, c *http.Cookie) string {
	return serve(h, "/whoami", c).Body.String()
}

// TestLoggedInSurvivesAnonymousFlood: with room for 500 sessions, 1,500
// anonymous visitors that each store something do not log a user out;
// they push out each other.
func TestLoggedInSurvivesAnonymousFlood(t *testing.T) {
	store := memstore.New(memstore.Options{MaxEntries: 500})
	h := floodApp(t, store)
	alice := login(t, h, "alice")
	codes := map[int]int{}
	for range 1500 {
		codes[serve(h, "/put").Code]++
	}
	if codes[http.StatusOK] != 1500 {
		t.Errorf("anonymous puts answered %v, want 1500 × 200", codes)
	}
	if got := whoami(h, alice); got != "alice" {
		t.Fatalf("after 1,500 anonymous puts alice's session reads user %q, want alice", got)
	}
	if n := store.Len(); n != 500 {
		t.Errorf("store holds %d sessions, want 500", n)
	}
}

// TestFullOfLoggedInRefusesAnonymous: when every session held has an
// owner, a new anonymous session gets a 503 and nobody is logged out,
// while a new login still gets in, displacing the least recently used.
func TestFullOfLoggedInRefusesAnonymous(t *testing.T) {
	store := memstore.New(memstore.Options{MaxEntries: 3})
	h := floodApp(t, store)
	users := map[string]*http.Cookie{}
	for _, u := range []string{"ann", "bob", "cat"} {
		users[u] = login(t, h, u)
	}
	w := serve(h, "/put")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("anonymous put into a store full of logged-in users: %d, Retry-After %q; want 503 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	for _, u := range []string{"ann", "bob", "cat"} {
		if got := whoami(h, users[u]); got != u {
			t.Errorf("after the refused put %s reads user %q", u, got)
		}
	}
	// Reading them in turn leaves ann least recently used.
	dan := login(t, h, "dan")
	if got := whoami(h, dan); got != "dan" {
		t.Errorf("dan reads user %q", got)
	}
	if got := whoami(h, users["ann"]); got != "" {
		t.Errorf("ann, least recently used, still reads user %q", got)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
