package replicated

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/lackstore"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/memcachestore"
	"github.com/httpsession/httpsession/store/memstore"
	"github.com/httpsession/httpsession/store/storetest"
)

const key = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newMemstore(t testing.TB) *memstore.Store {
	m := memstore.New(memstore.Options{})
	t.Cleanup(func() { m.Close() })
	return m
}

func newReplicated(t testing.TB, primary httpsession.Store, replicas []httpsession.Store, opts Options) *Store {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	s, err := New(primary, replicas, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// Every memcached store a test makes has a prefix of its own, so that
// tests can share a server. All prefixes have the same length.
var (
	runID    = rand.Uint32()
	prefixes atomic.Int64
)

func testPrefix() string {
	return fmt.Sprintf("hs-replicated-%08x-%06d:", runID, prefixes.Add(1))
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

// memcacheMaxData is the largest Record.Data without an owner that a
// replicated store on memcachestores with a test prefix keeps: an item of
// 1 MiB holds memcached's 59 bytes of overhead, the key, memcachestore's
// 18-byte header (see its README), this package's header and the data.
func memcacheMaxData() int {
	return memcachestore.DefaultMaxItemSize - 59 - len(testPrefix()) - 64 - 18 - recordHeaderLen
}

func TestConformance(t *testing.T) {
	t.Run("Memstore", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) httpsession.Store {
			return newReplicated(t, newMemstore(t), []httpsession.Store{newMemstore(t), newMemstore(t)}, Options{})
		}, storetest.Options{})
	})
	t.Run("Memcached", func(t *testing.T) {
		t.Parallel()
		primary := newMemcacheClient(t, testservice.Memcached(t))
		replica := newMemcacheClient(t, testservice.Memcached(t))
		storetest.Run(t, func(t *testing.T) httpsession.Store {
			return newReplicated(t, newMemcachestore(t, primary), []httpsession.Store{newMemcachestore(t, replica)}, Options{})
		}, storetest.Options{ExpiryGranularity: time.Second, MaxRecordSize: memcacheMaxData()})
	})
}

func TestNewRefusesBadMembers(t *testing.T) {
	m := newMemstore(t)
	for name, tc := range map[string]struct {
		primary  httpsession.Store
		replicas []httpsession.Store
	}{
		"no primary":     {nil, []httpsession.Store{m}},
		"no replica":     {m, nil},
		"nil replica":    {m, []httpsession.Store{nil}},
		"too many":       {m, slices.Repeat([]httpsession.Store{m}, maxMembers)},
		"primary down":   {downFlaky(m), []httpsession.Store{m}},
		"a replica down": {m, []httpsession.Store{m, downFlaky(m)}},
	} {
		if _, err := New(tc.primary, tc.replicas, Options{Logger: quiet}); err == nil {
			t.Errorf("%s: New returned no error", name)
		}
	}
}

func downFlaky(m *memstore.Store) *flaky {
	f := &flaky{m: m}
	f.down.Store(true)
	return f
}

// Each optional method works when every member has its interface, and
// answers ErrNotSupported when one member lacks it (as memcached lacks
// Lister and Cleaner).
func TestCapabilities(t *testing.T) {
	m := newMemstore(t)
	full := newReplicated(t, newMemstore(t), []httpsession.Store{newMemstore(t)}, Options{})
	for _, name := range lackstore.Names {
		if err := lackstore.Call(full, name); err != nil && !errors.Is(err, httpsession.ErrNotFound) {
			t.Errorf("%s on replicated memstores: %v", name, err)
		}
	}
	for _, lack := range lackstore.Names {
		s := newReplicated(t, newMemstore(t), []httpsession.Store{lackstore.Without(m, lack)}, Options{})
		for _, name := range lackstore.Names {
			err := lackstore.Call(s, name)
			if unsupported := errors.Is(err, httpsession.ErrNotSupported); unsupported != (name == lack) ||
				err != nil && !unsupported && !errors.Is(err, httpsession.ErrNotFound) {
				t.Errorf("%s with a replica without %s: %v", name, lack, err)
			}
		}
		if st := s.Status(); len(st.Down) != 0 || st.Failovers != 0 {
			t.Errorf("ErrNotSupported took a member down: %+v", st)
		}
	}
}

// errDown is what a flaky member says while it is down.
var errDown = errors.New("dial tcp 127.0.0.1:1: connect: connection refused")

// flaky is a memstore that can be taken down: every call fails while down
// is set, and every call but Ping while broken is set. afterPut, when set,
// runs once after the next Put that succeeds.
type flaky struct {
	m      *memstore.Store
	down   atomic.Bool
	broken atomic.Bool
	slow   bool // pause a little at random before each call

	mu       sync.Mutex
	afterPut func()
}

func newFlaky(t testing.TB) *flaky { return &flaky{m: newMemstore(t)} }

func (f *flaky) check() error {
	if f.slow {
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
	}
	if f.down.Load() || f.broken.Load() {
		return errDown
	}
	return nil
}

func (f *flaky) Get(ctx context.Context, key string) (httpsession.Record, error) {
	if err := f.check(); err != nil {
		return httpsession.Record{}, err
	}
	return f.m.Get(ctx, key)
}

func (f *flaky) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	v, err := f.m.Put(ctx, key, rec)
	if err == nil {
		f.mu.Lock()
		hook := f.afterPut
		f.afterPut = nil
		f.mu.Unlock()
		if hook != nil {
			hook()
		}
	}
	return v, err
}

func (f *flaky) Delete(ctx context.Context, key string) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.m.Delete(ctx, key)
}

func (f *flaky) Touch(ctx context.Context, key string, expires time.Time) error {
	if err := f.check(); err != nil {
		return err
	}
	return f.m.Touch(ctx, key, expires)
}

func (f *flaky) Ping(ctx context.Context) error {
	if f.down.Load() {
		return errDown
	}
	return nil
}

func (f *flaky) setAfterPut(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.afterPut = fn
}

func mustPut(t *testing.T, s httpsession.Store, data string, version uint64) uint64 {
	t.Helper()
	v, err := s.Put(t.Context(), key, httpsession.Record{Data: []byte(data), Expires: time.Now().Add(time.Hour), Version: version})
	if err != nil {
		t.Fatalf("Put(%q, version %d): %v", data, version, err)
	}
	return v
}

// wantRecord fails the test unless s's Get returns data ("" for not found)
// and, for a record, version.
func wantRecord(t *testing.T, s httpsession.Store, data string, version uint64, why string) {
	t.Helper()
	rec, err := s.Get(t.Context(), key)
	got := string(rec.Data)
	if errors.Is(err, httpsession.ErrNotFound) {
		got = ""
	} else if err != nil {
		t.Fatalf("%s: Get: %v", why, err)
	}
	if got != data || data != "" && rec.Version != version {
		t.Fatalf("%s: Get = (%q, version %d), want (%q, version %d)", why, got, rec.Version, data, version)
	}
}

func wantStatus(t *testing.T, s *Store, writer int, down ...int) {
	t.Helper()
	st := s.Status()
	if st.Writer != writer || !slices.Equal(st.Down, down) {
		t.Fatalf("Status = writer %d, down %v; want writer %d, down %v", st.Writer, st.Down, writer, down)
	}
}

// The primary fails: reads and writes go on on the replica with the same
// versions; the primary comes back as a replica; the replica fails and the
// primary, which took the writes since it came back, writes again.
func TestFailover(t *testing.T) {
	p, r := newFlaky(t), newFlaky(t)
	const retry = 20 * time.Millisecond
	s := newReplicated(t, p, []httpsession.Store{r}, Options{RetryAfter: retry})

	v1 := mustPut(t, s, "one", 0)
	p.down.Store(true)
	wantRecord(t, s, "one", v1, "primary down")
	wantStatus(t, s, 1, 0)
	v2 := mustPut(t, s, "two", v1) // the version read before the failover
	wantRecord(t, s, "two", v2, "written on the replica")

	p.down.Store(false)
	time.Sleep(retry)
	v3 := mustPut(t, s, "three", v2)
	wantStatus(t, s, 1) // back, as a replica
	wantRecord(t, s, "three", v3, "after the primary came back")

	r.down.Store(true)
	wantRecord(t, s, "three", v3, "replica down")
	wantStatus(t, s, 0, 1)
	if err := s.Touch(t.Context(), key, time.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	wantRecord(t, s, "", 0, "deleted")
	if st := s.Status(); st.Failovers != 2 {
		t.Errorf("Status.Failovers = %d, want 2", st.Failovers)
	}
}

// With every member down, calls fail with an error; once a member is due
// for another try and answers, they work again.
func TestAllDown(t *testing.T) {
	p, r := newFlaky(t), newFlaky(t)
	const retry = 20 * time.Millisecond
	s := newReplicated(t, p, []httpsession.Store{r}, Options{RetryAfter: retry})
	v := mustPut(t, s, "x", 0)
	p.down.Store(true)
	r.down.Store(true)
	if _, err := s.Get(t.Context(), key); err == nil || errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Get with every member down: %v, want a failure", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping with every member down: no error")
	}
	r.down.Store(false)
	time.Sleep(retry)
	wantRecord(t, s, "x", v, "replica back")
}

// A member whose calls fail but which answers a ping is not down: the
// error is the call's own, and the writer stays.
func TestErrorOfAnAnsweringMember(t *testing.T) {
	p, r := newFlaky(t), newFlaky(t)
	s := newReplicated(t, p, []httpsession.Store{r}, Options{})
	mustPut(t, s, "x", 0)
	p.broken.Store(true)
	if _, err := s.Get(t.Context(), key); !errors.Is(err, errDown) {
		t.Fatalf("Get from a broken primary: %v, want its error", err)
	}
	wantStatus(t, s, 0)
}

// A replica that fails is left out; writes go on.
func TestReplicaDown(t *testing.T) {
	p, r1, r2 := newFlaky(t), newFlaky(t), newFlaky(t)
	s := newReplicated(t, p, []httpsession.Store{r1, r2}, Options{})
	v1 := mustPut(t, s, "one", 0)
	r1.down.Store(true)
	v2 := mustPut(t, s, "two", v1)
	wantStatus(t, s, 0, 1)
	p.down.Store(true)
	wantRecord(t, s, "two", v2, "on the second replica")
	wantStatus(t, s, 2, 0, 1)
}

// A write whose copy was still on its way when its writer failed, and
// another write reached the new writer first: the late copy is refused
// and the Put reports a conflict, so that the Manager replays it on the
// new writer's record instead of losing one of the two.
func TestCopyOvertakenByFailover(t *testing.T) {
	p, r := newFlaky(t), newFlaky(t)
	s := newReplicated(t, p, []httpsession.Store{r}, Options{})
	v1 := mustPut(t, s, "one", 0)

	var vb uint64
	p.setAfterPut(func() {
		// A's write is on the primary only. The primary fails, and B
		// writes the version it read on the replica.
		p.down.Store(true)
		vb = mustPut(t, s, "B", v1)
	})
	_, err := s.Put(t.Context(), key, httpsession.Record{Data: []byte("A"), Expires: time.Now().Add(time.Hour), Version: v1})
	if !errors.Is(err, httpsession.ErrConflict) {
		t.Fatalf("A's Put: %v, want ErrConflict", err)
	}
	wantRecord(t, s, "B", vb, "after the failover")
	if st := s.Status(); st.Diverged != 1 {
		t.Errorf("Status.Diverged = %d, want 1", st.Diverged)
	}
	// A reloads and writes again, on top of B.
	mustPut(t, s, "B+A", vb)
}

// A copy that arrives after the record was deleted does not bring it back
// on the replica, where a later failover would find it.
func TestTombstoneStopsLateCopy(t *testing.T) {
	p, r := newFlaky(t), newFlaky(t)
	s := newReplicated(t, p, []httpsession.Store{r}, Options{})
	v1 := mustPut(t, s, "one", 0)
	p.setAfterPut(func() {
		if err := s.Delete(t.Context(), key); err != nil {
			t.Error(err)
		}
	})
	mustPut(t, s, "two", v1) // its copy reaches the replica after the Delete
	wantRecord(t, s, "", 0, "after the Delete")
	p.down.Store(true)
	wantRecord(t, s, "", 0, "on the replica after the primary failed")
	// The key is free to create again.
	v := mustPut(t, s, "new", 0)
	wantRecord(t, s, "new", v, "created again")
}

// Copies are taken in the order of their writes, whatever order they
// arrive in, and across a failover.
func TestCopyOnto(t *testing.T) {
	const t0 = 1 << 50 // a create's seq: its time in microseconds
	a1 := header{version: 11, seq: t0, writer: 0}
	a2 := header{version: 12, seq: t0 + 1, writer: 0}
	a3 := header{version: 13, seq: t0 + 2, writer: 0}
	b2 := next(a1, record, 1, 22) // replica 1 took over from a1
	b3 := next(b2, record, 1, 23)
	c3 := next(a2, record, 1, 33) // replica 1 took over from a2
	oldLife := header{version: 99, seq: t0 - 1<<30, writer: 1}
	for _, tc := range []struct {
		name   string
		cur    header
		k      kind
		e      header
		create bool
		want   copyAction
	}{
		{"nothing there", header{}, foreign, a1, true, apply},
		{"next write", a1, record, a2, false, apply},
		{"two writes later", a1, record, a3, false, apply},
		{"same write again", a2, record, a2, false, skip},
		{"older write after a newer", a3, record, a2, false, skip},
		{"the old writer's late copy after the new writer's first write", b2, record, a2, false, diverged},
		{"... and after its second", b3, record, a2, false, diverged},
		{"a late copy the new writer took over from", c3, record, a2, false, skip},
		{"an older copy the new writer took over from", c3, record, a1, false, skip},
		{"the new writer's write over the old writer's record", a2, record, c3, false, apply},
		{"the new writer's write over a record it is not built on", a2, record, b2, false, diverged},
		{"a create over an older life", oldLife, record, a1, true, apply},
		{"a late copy over a tombstone", header{seq: t0 + tombstoneMargin}, tombstone, a2, false, skip},
		{"a create over a tombstone", header{seq: t0 - 1}, tombstone, a1, true, apply},
	} {
		if got := copyOnto(tc.cur, tc.k, tc.e, tc.create); got != tc.want {
			t.Errorf("%s: copyOnto = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestFormatRoundTrip(t *testing.T) {
	h := header{version: 1<<52 - 1, seq: 1<<60 + 5, writer: 254, baseVersion: 7, baseSeq: 9}
	got, data, k := decode(encodeRecord(h, []byte("data")))
	if got != h || string(data) != "data" || k != record {
		t.Errorf("record round trip: %+v %q %d", got, data, k)
	}
	got, _, k = decode(encodeTombstone(42))
	if got.seq != 42 || k != tombstone {
		t.Errorf("tombstone round trip: %+v %d", got, k)
	}
	for _, b := range [][]byte{nil, []byte("R"), []byte("hello, world"), encodeTombstone(1)[:5]} {
		if _, _, k := decode(b); k != foreign {
			t.Errorf("decode(%q) = kind %d, want foreign", b, k)
		}
	}
}

// Concurrent read-modify-write increments of one record, retried on
// conflicts as the Manager does, while the primary fails in the middle:
// every increment that succeeded is in the final count, once. Random pauses
// in the members let copies and failovers interleave in many ways.
func TestIncrementsAcrossFailover(t *testing.T) {
	p, r := newFlaky(t), newFlaky(t)
	p.slow, r.slow = true, true
	s := newReplicated(t, p, []httpsession.Store{r}, Options{})
	mustPut(t, s, "0", 0)
	const workers, increments = 8, 30
	var done atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range increments {
				if err := increment(t, s); err != nil {
					t.Error(err)
					return
				}
				if done.Add(1) == workers*increments/3 {
					p.down.Store(true)
				}
			}
		})
	}
	wg.Wait()
	rec, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(rec.Data), strconv.Itoa(workers*increments); got != want {
		t.Fatalf("after %s increments the counter is %s; status %+v", want, got, s.Status())
	}
	wantStatus(t, s, 1, 0)
	t.Logf("status %+v", s.Status())
}

func increment(t *testing.T, s httpsession.Store) error {
	for {
		rec, err := s.Get(t.Context(), key)
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(rec.Data))
		_, err = s.Put(t.Context(), key, httpsession.Record{Data: []byte(strconv.Itoa(n + 1)), Expires: time.Now().Add(time.Hour), Version: rec.Version})
		if !errors.Is(err, httpsession.ErrConflict) {
			return err
		}
	}
}
