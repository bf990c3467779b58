package sessions_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testlog"
	"github.com/httpsession/httpsession/sessions"
	"github.com/httpsession/httpsession/store/boltstore"
	"github.com/httpsession/httpsession/store/filestore"
	"github.com/httpsession/httpsession/store/memstore"
)

// stores are the embedded stores the tests run on: one with an owner
// index and a list (memstore), and the file stores.
func stores() map[string]func(t *testing.T) httpsession.Store {
	return map[string]func(t *testing.T) httpsession.Store{
		"memstore": func(t *testing.T) httpsession.Store { return newMemStore(t) },
		"filestore": func(t *testing.T) httpsession.Store {
			s, err := filestore.New(filepath.Join(t.TempDir(), "sessions"), filestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
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

func newMemStore(t *testing.T) *memstore.Store {
	s := memstore.New(memstore.Options{})
	t.Cleanup(func() { s.Close() })
	return s
}

// newManager returns a Manager on cfg.Store, a memstore if nil.
func newManager(t *testing.T, cfg httpsession.Config) *httpsession.Manager {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = newMemStore(t)
	}
	cfg.Logger = testlog.New(t)
	m, err := httpsession.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// app logs in (POST /login?user=U, with Renew and SetOwner), logs out,
// sets a value (POST /put) and reads the user (GET /user).
func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Renew()
		s.SetOwner(r.URL.Query().Get("user"))
		s.Set("user", r.URL.Query().Get("user"))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Destroy()
	})
	mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("a", "1")
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		user, _ := httpsession.Get[string](httpsession.SessionFrom(r.Context()), "user")
		if user == "" {
			http.Error(w, "anonymous", http.StatusUnauthorized)
		}
	})
	return mux
}

// do sends one request through h with the given cookie header value.
func do(t *testing.T, h http.Handler, method, target, cookie string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// token returns the session token a response sets, or "".
func token(w *httptest.ResponseRecorder) string {
	for _, c := range w.Result().Cookies() {
		if c.Name == "session" {
			return c.Value
		}
	}
	return ""
}

func TestOwnersAndSignOutEverywhere(t *testing.T) {
	for name, newStore := range stores() {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			events := map[string]int{}
			count := func(kind string) func(context.Context, httpsession.SessionInfo) {
				return func(_ context.Context, info httpsession.SessionInfo) {
					mu.Lock()
					events[kind]++
					mu.Unlock()
					if info.Values != nil {
						t.Error("hook got session values")
					}
				}
			}
			m := newManager(t, httpsession.Config{
				Store:  newStore(t),
				Client: httpsession.Client{Record: true},
				Hooks: httpsession.Hooks{
					OnCreate: count("create"), OnRenew: count("renew"),
					OnDestroy: count("destroy"), OnExpire: count("expire"),
				},
			})
			h := m.Handler(app())
			login := func(user, ua string) string {
				r := httptest.NewRequest("POST", "/login?user="+user, nil)
				r.Header.Set("User-Agent", ua)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				return token(w)
			}
			ann := []string{login("ann", "phone"), login("ann", "laptop"), login("ann", "tablet")}
			login("bob", "desktop")
			anon := token(do(t, h, "POST", "/put", ""))
			// A renewed anonymous session becomes ann's fourth, then is logged out.
			renewed := token(do(t, h, "POST", "/login?user=ann", "session="+anon))
			do(t, h, "POST", "/logout", "session="+renewed)

			ctx := context.Background()
			got, err := sessions.Of(ctx, m, "ann")
			if err != nil {
				t.Fatal(err)
			}
			agents := map[string]bool{}
			for _, info := range got {
				agents[info.UserAgent] = true
				if info.IP != "192.0.2.1" || info.Created.IsZero() || info.LastSeen.IsZero() || info.Key == "" || info.Values["user"] != "ann" {
					t.Errorf("session info: %+v", info)
				}
			}
			if len(got) != 3 || !agents["phone"] || !agents["laptop"] || !agents["tablet"] {
				t.Fatalf("sessions.Of(ann) = %d sessions %v, want phone, laptop, tablet", len(got), agents)
			}

			keep, err := m.Load(ctx, ann[0])
			if err != nil {
				t.Fatal(err)
			}
			n, err := sessions.DestroyOwner(ctx, m, "ann", keep)
			if err != nil || n != 2 {
				t.Fatalf("DestroyOwner = %d, %v; want 2", n, err)
			}
			for i, tok := range ann {
				w := do(t, h, "GET", "/user", "session="+tok)
				if alive := w.Code == http.StatusOK; alive != (i == 0) {
					t.Errorf("ann's session %d alive = %v after sign-out-everywhere keeping the first", i, alive)
				}
			}
			if bob, _ := sessions.Of(ctx, m, "bob"); len(bob) != 1 {
				t.Fatalf("bob lost his session: %d", len(bob))
			}

			var owners []string
			err = sessions.Iterate(ctx, m, func(info httpsession.SessionInfo) bool {
				owners = append(owners, info.Owner)
				return true
			})
			if errors.Is(err, httpsession.ErrNotSupported) {
				t.Skip("store cannot list")
			}
			if err != nil || len(owners) != 2 { // ann's kept session and bob's
				t.Fatalf("sessions.Iterate: %v, %v", owners, err)
			}

			st := m.Stats()
			mu.Lock()
			defer mu.Unlock()
			// 5 logins and 1 put created 5 sessions (the put's one was renewed into a login).
			if st.Created != 5 || events["create"] != 5 || st.Renewed != 1 || events["renew"] != 1 {
				t.Errorf("created %d (%d hooks), renewed %d (%d hooks)", st.Created, events["create"], st.Renewed, events["renew"])
			}
			if st.Destroyed != 3 || events["destroy"] != 3 {
				t.Errorf("destroyed %d (%d hooks), want 3", st.Destroyed, events["destroy"])
			}
		})
	}
}

func TestDestroy(t *testing.T) {
	var destroyed []string
	m := newManager(t, httpsession.Config{Hooks: httpsession.Hooks{
		OnDestroy: func(_ context.Context, info httpsession.SessionInfo) { destroyed = append(destroyed, info.Owner) },
	}})
	h := m.Handler(app())
	tok := token(do(t, h, "POST", "/login?user=ann", ""))
	ctx := context.Background()
	info, err := sessions.Inspect(ctx, m, httpsession.StoreKey(tok))
	if err != nil || info.Owner != "ann" || info.Values["user"] != "ann" {
		t.Fatalf("Inspect: %+v, %v", info, err)
	}
	if err := sessions.Destroy(ctx, m, httpsession.StoreKey(tok)); err != nil {
		t.Fatal(err)
	}
	if w := do(t, h, "GET", "/user", "session="+tok); w.Code != http.StatusUnauthorized {
		t.Fatalf("the destroyed session still answers: %d", w.Code)
	}
	if err := sessions.Destroy(ctx, m, httpsession.StoreKey(tok)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("second Destroy: %v, want ErrNotFound", err)
	}
	if _, err := sessions.Inspect(ctx, m, httpsession.StoreKey(tok)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Inspect of a destroyed session: %v, want ErrNotFound", err)
	}
	if m.Stats().Destroyed != 1 || len(destroyed) != 1 || destroyed[0] != "ann" {
		t.Fatalf("destroyed %d, hooks %v", m.Stats().Destroyed, destroyed)
	}
}

// The grace marker a Renew leaves under the old key is no session: Inspect
// does not find it, and Iterate does not list it.
func TestRenewMarkerIsNoSession(t *testing.T) {
	m := newManager(t, httpsession.Config{})
	h := m.Handler(app())
	anon := token(do(t, h, "POST", "/put", ""))
	login := token(do(t, h, "POST", "/login?user=ann", "session="+anon))
	ctx := context.Background()
	if _, err := m.Store().Get(ctx, httpsession.StoreKey(anon)); err != nil {
		t.Fatalf("no grace marker under the old key: %v", err)
	}
	if _, err := sessions.Inspect(ctx, m, httpsession.StoreKey(anon)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Inspect of the grace marker: %v, want ErrNotFound", err)
	}
	var keys []string
	if err := sessions.Iterate(ctx, m, func(info httpsession.SessionInfo) bool {
		keys = append(keys, info.Key)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != httpsession.StoreKey(login) {
		t.Fatalf("Iterate listed %v, want only the login session", keys)
	}
}

// Records the codec cannot decode still belong to their owner: signing out
// everywhere ends them, and an operator can delete one.
func TestUndecodableRecordsCanBeEnded(t *testing.T) {
	store := newMemStore(t)
	m := newManager(t, httpsession.Config{Store: store})
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		key := httpsession.StoreKey(strings.Repeat(k, 43))
		if _, err := store.Put(ctx, key, httpsession.Record{Data: []byte("not a record"), Expires: time.Now().Add(time.Hour), Owner: "ann"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := sessions.DestroyOwner(ctx, m, "ann", nil); err != nil || n != 2 {
		t.Fatalf("DestroyOwner = %d, %v; want 2", n, err)
	}
	key := httpsession.StoreKey(strings.Repeat("c", 43))
	store.Put(ctx, key, httpsession.Record{Data: []byte{0xff}, Expires: time.Now().Add(time.Hour)})
	if _, err := sessions.Inspect(ctx, m, key); err == nil || errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Inspect of an undecodable record: %v, want the codec's error", err)
	}
	if err := sessions.Destroy(ctx, m, key); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, key); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatal("the undecodable record survived Destroy")
	}
}
