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
	"github.com/httpsession/httpsession/internal/lackstore"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/sessions"
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

func newTiered(t testing.TB, shared httpsession.Store, opts Options) *Store {
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

// Each optional method passes through to the shared store, or answers
// ErrNotSupported when the shared store lacks its interface.
func TestCapabilities(t *testing.T) {
	m := newMemstore(t)
	bare := newTiered(t, lackstore.Bare(m), Options{})
	for _, name := range lackstore.Names {
		if err := lackstore.Call(bare, name); !errors.Is(err, httpsession.ErrNotSupported) {
			t.Errorf("%s over a store without optional interfaces: %v, want ErrNotSupported", name, err)
		}
	}
	if err := bare.Ping(t.Context()); err != nil {
		t.Errorf("Ping over a store that cannot ping: %v", err)
	}
	for _, lack := range lackstore.Names {
		s := newTiered(t, lackstore.Without(m, lack), Options{})
		for _, name := range lackstore.Names {
			err := lackstore.Call(s, name)
			if unsupported := errors.Is(err, httpsession.ErrNotSupported); unsupported != (name == lack) ||
				err != nil && !unsupported && !errors.Is(err, httpsession.ErrNotFound) {
				t.Errorf("%s over a store without %s: %v", name, lack, err)
			}
		}
	}
}

// A Manager over a tiered store whose shared store has no owner index
// finds an owner's sessions by a scan, and one over a store that cannot
// list either reports ErrNotSupported.
func TestManagerFallsBack(t *testing.T) {
	m := newMemstore(t)
	for _, c := range []struct {
		shared httpsession.Store
		want   error
	}{
		{lackstore.Without(m, "OwnerIndex"), nil},
		{lackstore.Bare(m), httpsession.ErrNotSupported},
	} {
		mgr, err := httpsession.New(httpsession.Config{Store: newTiered(t, c.shared, Options{}), CleanupInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		sess, err := mgr.Load(t.Context(), "")
		if err != nil {
			t.Fatal(err)
		}
		sess.SetOwner("ann")
		sess.Set("k", "v")
		if err := mgr.Save(t.Context(), sess); err != nil {
			t.Fatal(err)
		}
		got, err := sessions.Of(t.Context(), mgr, "ann")
		if c.want == nil && (err != nil || len(got) != 1) || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("sessions.Of over %T: %d sessions, %v", c.shared, len(got), err)
		}
		mgr.Close()
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
	if err := s.Touch(t.Context(), key, later); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(t.Context(), key)
	if err != nil || !rec.Expires.Equal(later) {
		t.Fatalf("after Touch: Get = %v, %v; want Expires %v", rec.Expires, err, later)
	}
	if err := s.Touch(t.Context(), key, time.Now().Add(-time.Second)); err != nil {
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
