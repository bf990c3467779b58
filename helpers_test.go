package httpsession_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testlog"
	"github.com/httpsession/httpsession/store/memstore"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countingStore counts the calls that reach the store it wraps, and can be
// told to fail them.
type countingStore struct {
	httpsession.Store
	gets, puts, deletes, touches atomic.Int64
	fail                         atomic.Pointer[error]
}

func (c *countingStore) err() error {
	if p := c.fail.Load(); p != nil {
		return *p
	}
	return nil
}

func (c *countingStore) Get(ctx context.Context, key string) (httpsession.Record, error) {
	c.gets.Add(1)
	if err := c.err(); err != nil {
		return httpsession.Record{}, err
	}
	return c.Store.Get(ctx, key)
}

func (c *countingStore) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	c.puts.Add(1)
	if err := c.err(); err != nil {
		return 0, err
	}
	return c.Store.Put(ctx, key, rec)
}

func (c *countingStore) Delete(ctx context.Context, key string) error {
	c.deletes.Add(1)
	if err := c.err(); err != nil {
		return err
	}
	return c.Store.Delete(ctx, key)
}

func (c *countingStore) Touch(ctx context.Context, key string, exp time.Time) error {
	c.touches.Add(1)
	if err := c.err(); err != nil {
		return err
	}
	return c.Store.(httpsession.Toucher).Touch(ctx, key, exp)
}

func (c *countingStore) reset() {
	c.gets.Store(0)
	c.puts.Store(0)
	c.deletes.Store(0)
	c.touches.Store(0)
}

func newMemStore(t testing.TB) *memstore.Store {
	s := memstore.New(memstore.Options{})
	t.Cleanup(func() { s.Close() })
	return s
}

// newManager returns a Manager on a counted memstore with a fake clock.
func newManager(t testing.TB, cfg httpsession.Config) (*httpsession.Manager, *countingStore, *clock) {
	t.Helper()
	cs := &countingStore{Store: cfg.Store}
	if cs.Store == nil {
		cs.Store = newMemStore(t)
	}
	cfg.Store = cs
	clk := newClock()
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = testlog.New(t) // expected ERROR lines show only with -v or on failure
	}
	m, err := httpsession.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, cs, clk
}

// api is the test application: a few routes over the session.
func api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		v := s.Get(r.URL.Query().Get("key"))
		if v == nil {
			http.Error(w, "absent", http.StatusNotFound)
			return
		}
		io.WriteString(w, v.(string))
	})
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		httpsession.SessionFrom(r.Context()).Set(q.Get("key"), q.Get("value"))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/count", func(w http.ResponseWriter, r *http.Request) {
		n := httpsession.SessionFrom(r.Context()).Incr("n", 1)
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Renew()
		s.SetOwner(r.URL.Query().Get("user"))
		s.Set("user", r.URL.Query().Get("user"))
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Destroy()
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/noop", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "noop")
	})
	return mux
}

// do sends one request through h with the given cookie header value.
func do(t testing.TB, h http.Handler, method, target, cookie string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// sessionCookie returns the "session" cookie a response sets, or nil.
func sessionCookie(w *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == "session" {
			return c
		}
	}
	return nil
}

// client returns an HTTP client with a cookie jar for a test server.
func client(t testing.TB) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// Generous: 70 concurrent requests that conflict and retry on a file
	// store take over 10 s with the race detector on a loaded 2-core machine.
	return &http.Client{Jar: jar, Timeout: 2 * time.Minute}
}

func get(t testing.TB, c *http.Client, url string) (int, string) {
	t.Helper()
	return send(t, c, http.MethodGet, url)
}

func send(t testing.TB, c *http.Client, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// The wrapper passes the optional capabilities through; every embedded
// store has them.

func (c *countingStore) List(ctx context.Context, fn func(string, httpsession.Record) bool) error {
	return c.Store.(httpsession.Lister).List(ctx, fn)
}

func (c *countingStore) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	return c.Store.(httpsession.OwnerIndex).OwnerKeys(ctx, owner)
}
