package memstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestConformance(t *testing.T) {
	factory := func(opts Options) func(t *testing.T) httpsession.Store {
		return func(t *testing.T) httpsession.Store {
			s := New(opts)
			t.Cleanup(func() { s.Close() })
			return s
		}
	}
	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, factory(Options{}), storetest.Options{})
	})
	t.Run("SmallMaxBytes", func(t *testing.T) {
		t.Parallel()
		const maxBytes = 4 << 20
		storetest.Run(t, factory(Options{MaxBytes: maxBytes}), storetest.Options{
			// Keys are 64 bytes and count against MaxBytes.
			MaxRecordSize: maxBytes - 64,
		})
	})
}

// clock is a settable time source for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// key returns a 64-character key, as the Manager's are.
func key(name string) string {
	return name + strings.Repeat("0", 64-len(name))
}

func mustPut(t *testing.T, s *Store, k string, rec httpsession.Record) uint64 {
	t.Helper()
	v, err := s.Put(t.Context(), k, rec)
	if err != nil {
		t.Fatalf("Put(%s): %v", k[:8], err)
	}
	return v
}

// held reports which of keys the store holds, live or not, without
// touching the LRU order.
func held(s *Store, keys ...string) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]bool{}
	for _, k := range keys {
		_, m[k] = s.entries[k]
	}
	return m
}

func wantHeld(t *testing.T, s *Store, want map[string]bool) {
	t.Helper()
	for k, w := range want {
		if got := held(s, k)[k]; got != w {
			t.Errorf("store holds %s: %v, want %v", strings.TrimRight(k, "0"), got, w)
		}
	}
}

func TestEvictLeastRecentlyReadByEntries(t *testing.T) {
	s := New(Options{MaxEntries: 3, CleanupInterval: -1})
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	a, b, c, d := key("a"), key("b"), key("c"), key("d")
	mustPut(t, s, a, httpsession.Record{Data: []byte("a"), Owner: "u1", Expires: exp})
	mustPut(t, s, b, httpsession.Record{Data: []byte("b"), Owner: "u1", Expires: exp})
	mustPut(t, s, c, httpsession.Record{Data: []byte("c"), Expires: exp})
	if _, err := s.Get(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, d, httpsession.Record{Data: []byte("d"), Expires: exp})
	wantHeld(t, s, map[string]bool{a: true, b: false, c: true, d: true})

	// The evicted record left the owner index.
	keys, err := s.OwnerKeys(t.Context(), "u1")
	if err != nil || len(keys) != 1 || keys[0] != a {
		t.Errorf("OwnerKeys(u1) = %v, %v; want [a…]", keys, err)
	}
}

func TestEvictLeastRecentlyReadByBytes(t *testing.T) {
	const recSize = 64 + 100
	s := New(Options{MaxBytes: 3 * recSize, CleanupInterval: -1})
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	data := func(n int) []byte { return make([]byte, n) }
	a, b, c, d, e := key("a"), key("b"), key("c"), key("d"), key("e")
	for _, k := range []string{a, b, c} {
		mustPut(t, s, k, httpsession.Record{Data: data(100), Expires: exp})
	}
	if _, err := s.Get(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, d, httpsession.Record{Data: data(100), Expires: exp})
	wantHeld(t, s, map[string]bool{a: true, b: false, c: true, d: true})

	// LRU order is now d, a, c; a record with twice the data pushes out
	// both c and a.
	mustPut(t, s, e, httpsession.Record{Data: data(200), Expires: exp})
	wantHeld(t, s, map[string]bool{a: false, c: false, d: true, e: true})
	if want := int64(recSize + 64 + 200); s.bytes != want {
		t.Errorf("bytes = %d, want %d", s.bytes, want)
	}

	// A record over MaxBytes on its own is refused and evicts nothing.
	_, err := s.Put(t.Context(), key("f"), httpsession.Record{Data: data(3 * recSize), Expires: exp})
	if !errors.Is(err, httpsession.ErrTooLarge) {
		t.Fatalf("Put over MaxBytes: %v, want ErrTooLarge", err)
	}
	wantHeld(t, s, map[string]bool{d: true, e: true})
}

func TestExpiryWithNowHook(t *testing.T) {
	clk := newClock()
	s := New(Options{Now: clk.Now, CleanupInterval: -1})
	defer s.Close()
	ctx := t.Context()
	k := key("a")
	v := mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: clk.Now().Add(10 * time.Second)})

	clk.Advance(9 * time.Second)
	if err := s.Touch(ctx, k, clk.Now().Add(10*time.Second)); err != nil {
		t.Fatalf("Touch: %v", err)
	}
	clk.Advance(9 * time.Second)
	rec, err := s.Get(ctx, k)
	if err != nil || rec.Version != v {
		t.Fatalf("Get after Touch: version %d, %v; want version %d", rec.Version, err, v)
	}

	clk.Advance(time.Second) // exactly Expires: no longer live
	if _, err := s.Get(ctx, k); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Get at Expires: %v, want ErrNotFound", err)
	}
	wantHeld(t, s, map[string]bool{k: false})
	if len(s.owners) != 0 {
		t.Errorf("owner index keeps %v after expiry", s.owners)
	}
	if _, err := s.Put(ctx, k, httpsession.Record{Data: []byte("y"), Expires: clk.Now().Add(time.Second), Version: v}); !errors.Is(err, httpsession.ErrConflict) {
		t.Fatalf("Put with an expired record's version: %v, want ErrConflict", err)
	}
	mustPut(t, s, k, httpsession.Record{Data: []byte("y"), Expires: clk.Now().Add(time.Second)})
}

func TestJanitorRemovesExpiredAndCloseStopsIt(t *testing.T) {
	defer goleak.VerifyNone(t)
	clk := newClock()
	s := New(Options{Now: clk.Now, CleanupInterval: time.Millisecond})
	gone, kept := key("gone"), key("kept")
	mustPut(t, s, gone, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: clk.Now().Add(time.Minute)})
	mustPut(t, s, kept, httpsession.Record{Data: []byte("x"), Owner: "u2", Expires: clk.Now().Add(time.Hour)})
	clk.Advance(2 * time.Minute)

	deadline := time.Now().Add(5 * time.Second)
	for held(s, gone)[gone] {
		if time.Now().After(deadline) {
			t.Fatal("janitor did not remove an expired record within 5s")
		}
		time.Sleep(time.Millisecond)
	}
	wantHeld(t, s, map[string]bool{kept: true})
	s.mu.Lock()
	_, u1 := s.owners["u1"]
	s.mu.Unlock()
	if u1 {
		t.Error("owner index keeps u1 after the janitor removed its record")
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // idempotent
		t.Fatal(err)
	}
}

func TestCloseWithoutJanitor(t *testing.T) {
	defer goleak.VerifyNone(t)
	s := New(Options{CleanupInterval: -1})
	s.Close()
	s.Close()
	// The store stays usable after Close.
	mustPut(t, s, key("a"), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
}

func TestVersionsIncrease(t *testing.T) {
	s := New(Options{CleanupInterval: -1})
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	var last uint64
	for i := range 10 {
		k := key(strconv.Itoa(i % 3))
		var cur uint64
		if rec, err := s.Get(t.Context(), k); err == nil {
			cur = rec.Version
		}
		v := mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Expires: exp, Version: cur})
		if v <= last {
			t.Fatalf("version %d after %d", v, last)
		}
		last = v
	}
}

func TestCanceledContext(t *testing.T) {
	s := New(Options{CleanupInterval: -1})
	defer s.Close()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, key("a"), httpsession.Record{Expires: time.Now().Add(time.Hour)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: %v", err)
	}
	if _, err := s.Get(ctx, key("a")); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: %v", err)
	}
}
