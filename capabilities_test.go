package httpsession_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/sessions"
)

// lacking is a wrapper that has every optional method, as store/tiered and
// store/replicated do, and answers ErrNotSupported from the ones named in
// lacks. It counts the calls of each.
type lacking struct {
	httpsession.Store
	lacks map[string]bool
	calls sync.Map // method name -> *atomic.Int64
}

// call counts a call of name and reports whether the wrapper lacks it.
func (l *lacking) call(name string) bool {
	n, _ := l.calls.LoadOrStore(name, new(atomic.Int64))
	n.(*atomic.Int64).Add(1)
	return l.lacks[name]
}

// notSupported wraps ErrNotSupported the way stores do.
func notSupported(name string) error {
	return errors.Join(errors.New("lacking: "+name), httpsession.ErrNotSupported)
}

func (l *lacking) count(name string) int64 {
	n, ok := l.calls.Load(name)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

func (l *lacking) Touch(ctx context.Context, key string, exp time.Time) error {
	if l.call("Touch") {
		return notSupported("Touch")
	}
	return l.Store.(httpsession.Toucher).Touch(ctx, key, exp)
}

func (l *lacking) List(ctx context.Context, fn func(string, httpsession.Record) bool) error {
	if l.call("List") {
		return notSupported("List")
	}
	return l.Store.(httpsession.Lister).List(ctx, fn)
}

func (l *lacking) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	if l.call("OwnerKeys") {
		return nil, notSupported("OwnerKeys")
	}
	return l.Store.(httpsession.OwnerIndex).OwnerKeys(ctx, owner)
}

func (l *lacking) DeleteExpired(ctx context.Context, limit int) (int, error) {
	if l.call("DeleteExpired") {
		return 0, notSupported("DeleteExpired")
	}
	return l.Store.(httpsession.Cleaner).DeleteExpired(ctx, limit)
}

func newLacking(t *testing.T, lacks ...string) *lacking {
	l := &lacking{Store: newMemStore(t), lacks: map[string]bool{}}
	for _, name := range lacks {
		l.lacks[name] = true
	}
	return l
}

// A Touch that answers ErrNotSupported is replaced by a rewrite, as for a
// store without Touch: the idle expiry still slides.
func TestTouchFallsBackOnNotSupported(t *testing.T) {
	store := newLacking(t, "Touch")
	m, cs, clk := newManager(t, httpsession.Config{Store: store, IdleTimeout: 10 * time.Minute, CleanupInterval: -1})
	h := m.Handler(api())
	token := sessionCookie(do(t, h, "POST", "/put?key=a&value=1", "")).Value
	before, err := store.Get(context.Background(), httpsession.StoreKey(token))
	if err != nil {
		t.Fatal(err)
	}
	cs.reset()
	clk.Add(5 * time.Minute)
	if w := do(t, h, "GET", "/get?key=a", "session="+token); w.Code != http.StatusOK {
		t.Fatalf("read after 5 minutes: %d %q", w.Code, w.Body.String())
	}
	after, err := store.Get(context.Background(), httpsession.StoreKey(token))
	if err != nil {
		t.Fatal(err)
	}
	if store.count("Touch") != 1 || cs.puts.Load() != 1 || !after.Expires.After(before.Expires) || after.Version == before.Version {
		t.Fatalf("touch calls %d, puts %d, expiry %v -> %v, version %d -> %d",
			store.count("Touch"), cs.puts.Load(), before.Expires, after.Expires, before.Version, after.Version)
	}
	if got := m.Stats().StoreErrors; got != 0 {
		t.Fatalf("ErrNotSupported counted as %d store errors", got)
	}
}

// An owner index that answers ErrNotSupported is replaced by a scan; a
// List that does is reported as ErrNotSupported.
func TestOwnerIndexFallsBackOnNotSupported(t *testing.T) {
	store := newLacking(t, "OwnerKeys")
	m, _, _ := newManager(t, httpsession.Config{Store: store, CleanupInterval: -1})
	h := m.Handler(api())
	for range 3 {
		do(t, h, "POST", "/login?user=ann", "")
	}
	do(t, h, "POST", "/login?user=bob", "")
	ctx := context.Background()
	got, err := sessions.Of(ctx, m, "ann")
	if err != nil || len(got) != 3 || store.count("OwnerKeys") != 1 || store.count("List") != 1 {
		t.Fatalf("sessions.Of: %d sessions, %v; OwnerKeys calls %d, List calls %d", len(got), err, store.count("OwnerKeys"), store.count("List"))
	}
	if n, err := sessions.DestroyOwner(ctx, m, "ann", nil); n != 3 || err != nil {
		t.Fatalf("sessions.DestroyOwner: %d, %v", n, err)
	}

	none := newLacking(t, "OwnerKeys", "List")
	m2, _, _ := newManager(t, httpsession.Config{Store: none, CleanupInterval: -1})
	if _, err := sessions.Of(ctx, m2, "ann"); !errors.Is(err, httpsession.ErrNotSupported) {
		t.Fatalf("sessions.Of on a store that can neither index nor list: %v", err)
	}
	if err := sessions.Iterate(ctx, m2, func(httpsession.SessionInfo) bool { return true }); !errors.Is(err, httpsession.ErrNotSupported) {
		t.Fatalf("sessions.Iterate on a store that cannot list: %v", err)
	}
}

// A janitor whose store answers ErrNotSupported stops after its first
// call, quietly, and Close still returns.
func TestJanitorStopsOnNotSupported(t *testing.T) {
	store := newLacking(t, "DeleteExpired")
	var log bytes.Buffer
	var mu sync.Mutex
	m, err := httpsession.New(httpsession.Config{
		Store: store, CleanupInterval: time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &log, mu: &mu}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for store.count("DeleteExpired") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the janitor made no call within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	// Forty more intervals at least: a janitor still running would call again.
	time.Sleep(40 * time.Millisecond)
	if n := store.count("DeleteExpired"); n != 1 {
		t.Fatalf("the janitor called DeleteExpired %d times after ErrNotSupported", n)
	}
	m.Close()
	mu.Lock()
	defer mu.Unlock()
	if log.Len() != 0 {
		t.Fatalf("the janitor logged: %s", log.String())
	}
}

// unregisteredValue is a struct type no test registers with gob.
type unregisteredValue struct{ N int }

// A value the codec cannot encode is the application's bug: the handler
// sees ErrEncoding, the log says so, and the answer is 500, never the 503
// of a store outage.
func TestEncodingErrorIsNotStoreFailure(t *testing.T) {
	var log bytes.Buffer
	var mu sync.Mutex
	var handled error
	m, cs, _ := newManager(t, httpsession.Config{
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &log, mu: &mu}, nil)),
	})
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("v", unregisteredValue{1})
	}))
	w := do(t, h, "POST", "/", "")
	if w.Code != http.StatusInternalServerError || cs.puts.Load() != 0 {
		t.Fatalf("status %d, puts %d", w.Code, cs.puts.Load())
	}
	mu.Lock()
	line := log.String()
	mu.Unlock()
	if !strings.Contains(line, "session encoding failure") || strings.Contains(line, "store failure") {
		t.Fatalf("log: %s", line)
	}
	if m.Stats().StoreErrors != 0 {
		t.Fatalf("an encoding error counted as %d store errors", m.Stats().StoreErrors)
	}

	m2, _, _ := newManager(t, httpsession.Config{ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
		handled = err
		http.Error(w, "bug", http.StatusInternalServerError)
	}, Logger: slog.New(slog.DiscardHandler)})
	h2 := m2.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("v", unregisteredValue{1})
	}))
	do(t, h2, "POST", "/", "")
	if !errors.Is(handled, httpsession.ErrEncoding) || errors.Is(handled, httpsession.ErrUnavailable) {
		t.Fatalf("the ErrorHandler saw %v", handled)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
