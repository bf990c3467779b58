package tiered

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/memcachestore"
	"github.com/httpsession/httpsession/store/memstore"
	"github.com/httpsession/httpsession/store/storetest"
)

const key = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

func newMemstore(t testing.TB) *memstore.Store {
	m := memstore.New(memstore.Options{})
	t.Cleanup(func() { m.Close() })
	return m
}

func newTiered(t testing.TB, shared httpsession.Store, opts Options) Store {
	t.Helper()
	if opts.MaxStale == 0 {
		opts.MaxStale = time.Second
	}
	s, err := New(shared, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Every memcached store a test makes has a prefix of its own, so that
// tests can share a server. All prefixes have the same length.
var (
	runID    = rand.Uint32()
	prefixes atomic.Int64
)

func testPrefix() string {
	return fmt.Sprintf("hs-tiered-%08x-%06d:", runID, prefixes.Add(1))
}

func newMemcacheClient(t testing.TB, srv *testservice.Server) *memcache.Client {
	t.Helper()
	var servers memcache.ServerList
	if err := servers.SetServers(srv.Addrs()...); err != nil {
		t.Fatal(err)
	}
	c := memcache.NewFromSelector(&servers)
	c.MaxIdleConns = 16
	c.Timeout = 5 * time.Second // the race detector is slow
	t.Cleanup(func() { c.Close() })
	return c
}

func newMemcachestore(t testing.TB, c *memcache.Client) *memcachestore.Store {
	t.Helper()
	s, err := memcachestore.New(c, memcachestore.Options{Prefix: testPrefix()})
	if err != nil {
		t.Fatalf("memcachestore.New: %v", err)
	}
	return s
}

// memcacheMaxData is the largest Record.Data without an owner that
// memcachestore keeps under a 64-character key with a test prefix: an item
// of 1 MiB holds memcached's 59 bytes of overhead, the key, the store's
// 18-byte header and the data (see memcachestore's README).
func memcacheMaxData() int {
	return memcachestore.DefaultMaxItemSize - 59 - len(testPrefix()) - 64 - 18
}

func TestConformance(t *testing.T) {
	t.Run("Memstore", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) httpsession.Store {
			return newTiered(t, newMemstore(t), Options{})
		}, storetest.Options{})
	})
	t.Run("Memcached", func(t *testing.T) {
		t.Parallel()
		c := newMemcacheClient(t, testservice.Memcached(t))
		storetest.Run(t, func(t *testing.T) httpsession.Store {
			return newTiered(t, newMemcachestore(t, c), Options{})
		}, storetest.Options{ExpiryGranularity: time.Second, MaxRecordSize: memcacheMaxData()})
	})
}

func TestNewRefusesBadOptions(t *testing.T) {
	if _, err := New(nil, Options{MaxStale: time.Second}); err == nil {
		t.Error("New without a shared store: no error")
	}
	for _, d := range []time.Duration{0, -time.Second} {
		if _, err := New(newMemstore(t), Options{MaxStale: d}); err == nil {
			t.Errorf("New with MaxStale %v: no error", d)
		}
	}
}

// The wrapper New returns implements exactly the optional interfaces of
// the shared store, for every combination of them.
func TestCapabilities(t *testing.T) {
	m := newMemstore(t)
	for mask := range 16 {
		want := [4]bool{mask&8 != 0, mask&4 != 0, mask&2 != 0, mask&1 != 0}
		shared := sharedWith(m, want)
		s := newTiered(t, shared, Options{})
		got := [4]bool{is[httpsession.Toucher](s), is[httpsession.Lister](s), is[httpsession.Cleaner](s), is[httpsession.OwnerIndex](s)}
		if got != want {
			t.Errorf("over a store with Toucher, Lister, Cleaner, OwnerIndex = %v: tiered store has %v", want, got)
		}
		if !is[httpsession.Pinger](s) {
			t.Errorf("tiered store over %v is not a Pinger", want)
		}
	}
	// The stores of this module.
	if s := newTiered(t, m, Options{}); !is[httpsession.Lister](s) || !is[httpsession.Cleaner](s) {
		t.Error("tiered store over a memstore does not list or clean")
	}
}

func is[I any](s any) bool {
	_, ok := s.(I)
	return ok
}

// sharedWith returns m behind a type that has the optional interfaces
// flagged in caps (Toucher, Lister, Cleaner, OwnerIndex) and no others.
func sharedWith(m *memstore.Store, caps [4]bool) httpsession.Store {
	type (
		T = httpsession.Toucher
		L = httpsession.Lister
		C = httpsession.Cleaner
		O = httpsession.OwnerIndex
		S = httpsession.Store
	)
	switch caps {
	case [4]bool{}:
		return struct{ S }{m}
	case [4]bool{true, false, false, false}:
		return struct {
			S
			T
		}{m, m}
	case [4]bool{false, true, false, false}:
		return struct {
			S
			L
		}{m, m}
	case [4]bool{false, false, true, false}:
		return struct {
			S
			C
		}{m, m}
	case [4]bool{false, false, false, true}:
		return struct {
			S
			O
		}{m, m}
	case [4]bool{true, true, false, false}:
		return struct {
			S
			T
			L
		}{m, m, m}
	case [4]bool{true, false, true, false}:
		return struct {
			S
			T
			C
		}{m, m, m}
	case [4]bool{true, false, false, true}:
		return struct {
			S
			T
			O
		}{m, m, m}
	case [4]bool{false, true, true, false}:
		return struct {
			S
			L
			C
		}{m, m, m}
	case [4]bool{false, true, false, true}:
		return struct {
			S
			L
			O
		}{m, m, m}
	case [4]bool{false, false, true, true}:
		return struct {
			S
			C
			O
		}{m, m, m}
	case [4]bool{true, true, true, false}:
		return struct {
			S
			T
			L
			C
		}{m, m, m, m}
	case [4]bool{true, true, false, true}:
		return struct {
			S
			T
			L
			O
		}{m, m, m, m}
	case [4]bool{true, false, true, true}:
		return struct {
			S
			T
			C
			O
		}{m, m, m, m}
	case [4]bool{false, true, true, true}:
		return struct {
			S
			L
			C
			O
		}{m, m, m, m}
	default:
		return m
	}
}

// clock is a fake clock that tests move by hand.
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

func mustPut(t *testing.T, s httpsession.Store, data string, version uint64) uint64 {
	t.Helper()
	v, err := s.Put(t.Context(), key, httpsession.Record{Data: []byte(data), Expires: time.Now().Add(time.Hour), Version: version})
	if err != nil {
		t.Fatalf("Put(%q, version %d): %v", data, version, err)
	}
	return v
}

// wantData fails the test unless s's Get returns data ("" for not found).
func wantData(t *testing.T, s httpsession.Store, want, why string) {
	t.Helper()
	rec, err := s.Get(t.Context(), key)
	got := string(rec.Data)
	if errors.Is(err, httpsession.ErrNotFound) {
		got = ""
	} else if err != nil {
		t.Fatalf("%s: Get: %v", why, err)
	}
	if got != want {
		t.Fatalf("%s: Get = %q, want %q", why, got, want)
	}
}

// Two instances over one shared store: B sees A's writes and deletes only
// once its local copy is MaxStale old, while A sees its own at once; a
// compare-and-set from B's stale copy fails, and B's next read is fresh.
func TestStalenessBound(t *testing.T) {
	const maxStale = time.Second
	clk := newClock()
	shared := newMemstore(t)
	a := newTiered(t, shared, Options{MaxStale: maxStale, Now: clk.Now})
	b := newTiered(t, shared, Options{MaxStale: maxStale, Now: clk.Now})

	v1 := mustPut(t, a, "one", 0)
	wantData(t, b, "one", "B's first read")
	v2 := mustPut(t, a, "two", v1)
	wantData(t, a, "two", "A right after its own write")
	wantData(t, b, "one", "B at once after A's write")
	clk.Advance(maxStale - time.Nanosecond)
	wantData(t, b, "one", "B just under MaxStale after A's write")
	clk.Advance(time.Nanosecond)
	wantData(t, b, "two", "B MaxStale after its read")

	// A compare-and-set from a stale copy fails, and drops the copy.
	mustPut(t, a, "three", v2)
	wantData(t, b, "two", "B right after A's third write")
	if _, err := b.Put(t.Context(), key, httpsession.Record{Data: []byte("from B"), Expires: time.Now().Add(time.Hour), Version: v2}); !errors.Is(err, httpsession.ErrConflict) {
		t.Fatalf("B's Put with its stale version: got %v, want ErrConflict", err)
	}
	wantData(t, b, "three", "B right after its conflict")

	// A delete by A: B keeps its copy for up to MaxStale.
	clk.Advance(maxStale / 2)
	if err := a.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	wantData(t, a, "", "A right after its Delete")
	wantData(t, b, "three", "B right after A's Delete")
	clk.Advance(maxStale / 2)
	wantData(t, b, "", "B MaxStale after its last read")

	if got, want := b.Stats(), (Stats{LocalHits: 4, SharedGets: 4}); got != want {
		t.Errorf("B's Stats = %+v, want %+v", got, want)
	}
}

// A touch through the instance moves the local copy's expiry, earlier too:
// a record touched into the past is gone at once.
func TestTouchMovesLocalCopy(t *testing.T) {
	s := newTiered(t, newMemstore(t), Options{MaxStale: time.Hour})
	mustPut(t, s, "x", 0)
	later := time.Now().Add(2 * time.Hour).Truncate(time.Millisecond)
	if err := s.(httpsession.Toucher).Touch(t.Context(), key, later); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(t.Context(), key)
	if err != nil || !rec.Expires.Equal(later) {
		t.Fatalf("after Touch: Get = %v, %v; want Expires %v", rec.Expires, err, later)
	}
	if err := s.(httpsession.Toucher).Touch(t.Context(), key, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	wantData(t, s, "", "after a Touch into the past")
	if st := s.Stats(); st.SharedGets != 1 || st.LocalHits != 1 {
		t.Errorf("Stats = %+v, want 1 local hit and 1 shared get", st)
	}
}

// A record too large for the local cache is served from the shared store.
func TestTooLargeForLocal(t *testing.T) {
	s := newTiered(t, newMemstore(t), Options{Local: memstore.Options{MaxBytes: 100}})
	mustPut(t, s, string(make([]byte, 200)), 0)
	for range 3 {
		wantData(t, s, string(make([]byte, 200)), "large record")
	}
	if st := s.Stats(); st.SharedGets != 3 {
		t.Errorf("Stats = %+v, want 3 shared gets", st)
	}
}

// slowStore delays every call a little at random, so that the calls of
// concurrent goroutines on one key finish in any order.
type slowStore struct{ httpsession.Store }

func pause() { time.Sleep(time.Duration(rand.IntN(300)) * time.Microsecond) }

func (s slowStore) Get(ctx context.Context, key string) (httpsession.Record, error) {
	pause()
	rec, err := s.Store.Get(ctx, key)
	pause()
	return rec, err
}

func (s slowStore) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	pause()
	v, err := s.Store.Put(ctx, key, rec)
	pause()
	return v, err
}

// Writes through an instance are never stale there: however concurrent
// Gets and Puts of one key interleave, a Get after a Put that wrote n
// returns n or a later count, never an earlier one.
func TestOwnWritesNeverStale(t *testing.T) {
	s := newTiered(t, slowStore{newMemstore(t)}, Options{MaxStale: time.Hour})
	mustPut(t, s, "0", 0)
	const workers, increments = 8, 40
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for done := 0; done < increments; {
				rec, err := s.Get(t.Context(), key)
				if err != nil {
					t.Error(err)
					return
				}
				n, _ := strconv.Atoi(string(rec.Data))
				_, err = s.Put(t.Context(), key, httpsession.Record{Data: []byte(strconv.Itoa(n + 1)), Expires: time.Now().Add(time.Hour), Version: rec.Version})
				if errors.Is(err, httpsession.ErrConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				done++
				after, err := s.Get(t.Context(), key)
				if err != nil {
					t.Error(err)
					return
				}
				if m, _ := strconv.Atoi(string(after.Data)); m < n+1 {
					t.Errorf("Get after writing %d returned %d", n+1, m)
				}
			}
		})
	}
	wg.Wait()
	wantData(t, s, strconv.Itoa(workers*increments), "at the end")
}
