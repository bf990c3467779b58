package memstore

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
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
		m[k] = s.lookup(k) != nilSlot
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
	s := New(Options{MaxEntries: 3})
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	a, b, c, d := key("a"), key("b"), key("c"), key("d")
	for _, k := range []string{a, b, c} {
		mustPut(t, s, k, httpsession.Record{Data: []byte(k[:1]), Expires: exp})
	}
	if _, err := s.Get(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, d, httpsession.Record{Data: []byte("d"), Expires: exp})
	wantHeld(t, s, map[string]bool{a: true, b: false, c: true, d: true})
}

// TestEvictAnonymousFirst follows a store of three entries through the
// policy: expired records go first, then anonymous ones by recency; an
// owned record displaces the least recently used owned one only when no
// anonymous one is left, and an anonymous record never displaces one.
func TestEvictAnonymousFirst(t *testing.T) {
	clk := newClock()
	s := New(Options{MaxEntries: 3, Now: clk.Now})
	defer s.Close()
	hour := clk.Now().Add(time.Hour)
	put := func(name, owner string) error {
		_, err := s.Put(t.Context(), key(name), httpsession.Record{Data: []byte(name), Owner: owner, Expires: hour})
		return err
	}
	must := func(name, owner string) {
		t.Helper()
		if err := put(name, owner); err != nil {
			t.Fatalf("Put(%s, owner %q): %v", name, owner, err)
		}
	}
	must("01", "u1") // owned, and least recently used from here on
	must("a1", "")
	must("a2", "")
	must("a3", "") // evicts a1, not the older owned 01
	wantHeld(t, s, map[string]bool{key("01"): true, key("a1"): false, key("a2"): true, key("a3"): true})

	must("02", "u2") // owned, but still evicts the anonymous a2 first
	must("03", "u3") // and then a3
	wantHeld(t, s, map[string]bool{key("01"): true, key("02"): true, key("03"): true, key("a2"): false, key("a3"): false})

	// Only owned records: an anonymous one is refused and changes nothing.
	err := put("a4", "")
	if !errors.Is(err, ErrFull) || !errors.Is(err, httpsession.ErrUnavailable) {
		t.Fatalf("anonymous Put into a store full of owned records: %v, want ErrFull wrapping ErrUnavailable", err)
	}
	wantHeld(t, s, map[string]bool{key("01"): true, key("02"): true, key("03"): true, key("a4"): false})
	if n := s.Len(); n != 3 {
		t.Errorf("Len after a refused Put = %d, want 3", n)
	}

	// An owned record displaces the least recently used owned one.
	if _, err := s.Get(t.Context(), key("01")); err != nil {
		t.Fatal(err)
	}
	must("04", "u4")
	wantHeld(t, s, map[string]bool{key("01"): true, key("02"): false, key("03"): true, key("04"): true})
	if keys, _ := s.OwnerKeys(t.Context(), "u2"); len(keys) != 0 {
		t.Errorf("OwnerKeys(u2) after eviction = %v, want none", keys)
	}

	// An expired owned record makes room for an anonymous one.
	if err := s.Touch(t.Context(), key("03"), clk.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	must("a5", "")
	wantHeld(t, s, map[string]bool{key("01"): true, key("03"): false, key("04"): true, key("a5"): true})
}

// TestRefusedUpdateKeepsRecord grows an anonymous record past MaxBytes
// when only owned records could make room: the Put is refused and the
// record keeps its data and version.
func TestRefusedUpdateKeepsRecord(t *testing.T) {
	const recSize = 64 + 100
	s := New(Options{MaxBytes: 3 * recSize})
	defer s.Close()
	exp := time.Now().Add(time.Hour)
	mustPut(t, s, key("01"), httpsession.Record{Data: make([]byte, 100), Owner: "u1", Expires: exp})
	mustPut(t, s, key("02"), httpsession.Record{Data: make([]byte, 100), Owner: "u2", Expires: exp})
	v := mustPut(t, s, key("a"), httpsession.Record{Data: []byte("small"), Expires: exp})
	_, err := s.Put(t.Context(), key("a"), httpsession.Record{Data: make([]byte, 200), Expires: exp, Version: v})
	if !errors.Is(err, ErrFull) {
		t.Fatalf("growing an anonymous record over MaxBytes among owned ones: %v, want ErrFull", err)
	}
	rec, err := s.Get(t.Context(), key("a"))
	if err != nil || string(rec.Data) != "small" || rec.Version != v {
		t.Fatalf("after the refused update: %q version %d, %v; want %q version %d", rec.Data, rec.Version, err, "small", v)
	}
	// Given an owner, the same update displaces the least recently used
	// owned record, 01 (02 and a were used since).
	if _, err := s.Get(t.Context(), key("02")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), key("a"), httpsession.Record{Data: make([]byte, 200), Owner: "u3", Expires: exp, Version: v}); err != nil {
		t.Fatalf("owned update: %v", err)
	}
	wantHeld(t, s, map[string]bool{key("01"): false, key("02"): true, key("a"): true})
	if keys, _ := s.OwnerKeys(t.Context(), "u3"); len(keys) != 1 {
		t.Errorf("OwnerKeys(u3) = %v, want [a…]", keys)
	}
}

func TestEvictLeastRecentlyReadByBytes(t *testing.T) {
	const recSize = 64 + 100
	s := New(Options{MaxBytes: 3 * recSize})
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

// checkInvariants walks every index of s and fails t if they disagree.
func checkInvariants(t *testing.T, s *Store) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	inList := map[int32]bool{}
	var bytes int64
	for _, l := range []*lruList{&s.anon, &s.owned} {
		n, lb, prev := 0, int64(0), nilSlot
		for i := l.head; i != nilSlot; i = s.slot(i).lru.next {
			sl := s.slot(i)
			if !sl.inUse || sl.lru.prev != prev || inList[i] || (sl.owner != 0) != (l == &s.owned) {
				t.Fatalf("LRU list broken at slot %d (in use %v, prev %d want %d)", i, sl.inUse, sl.lru.prev, prev)
			}
			inList[i] = true
			n++
			lb += sl.size()
			prev = i
		}
		if l.tail != prev || l.n != n || l.bytes != lb {
			t.Fatalf("LRU list: tail %d n %d bytes %d, walked tail %d n %d bytes %d", l.tail, l.n, l.bytes, prev, n, lb)
		}
		bytes += lb
	}
	if bytes != s.bytes {
		t.Fatalf("bytes = %d, records sum to %d", s.bytes, bytes)
	}
	if len(inList) != len(s.hexKeys)+len(s.strKeys) {
		t.Fatalf("%d records in lists, %d keys", len(inList), len(s.hexKeys)+len(s.strKeys))
	}
	for k, i := range s.hexKeys {
		if sl := s.slot(i); !sl.inUse || !sl.isHex || sl.hexKey != k {
			t.Fatalf("hex key index points at the wrong slot %d", i)
		}
	}
	for k, i := range s.strKeys {
		if sl := s.slot(i); !sl.inUse || sl.isHex || s.strOf[i] != k {
			t.Fatalf("key index of %q points at the wrong slot %d", k, i)
		}
	}
	inBucket := 0
	if len(s.expiry.heap) != len(s.expiry.buckets) {
		t.Fatalf("%d buckets in the heap, %d in the map", len(s.expiry.heap), len(s.expiry.buckets))
	}
	for j, b := range s.expiry.heap {
		if b.heapIdx != j || s.expiry.buckets[b.second] != b || b.head == nilSlot {
			t.Fatalf("bucket %d: heap position %d at %d, in map %v, head %d", b.second, b.heapIdx, j, s.expiry.buckets[b.second] == b, b.head)
		}
		if j > 0 && s.expiry.heap[(j-1)/2].second > b.second {
			t.Fatalf("bucket heap out of order at %d", j)
		}
		prev := nilSlot
		for i := b.head; i != nilSlot; i = s.slot(i).exp.next {
			sl := s.slot(i)
			if !inList[i] || sl.exp.prev != prev || secondOf(sl.expires) != b.second {
				t.Fatalf("bucket %d broken at slot %d", b.second, i)
			}
			inBucket++
			prev = i
		}
	}
	if inBucket != len(inList) {
		t.Fatalf("%d records in buckets, %d in lists", inBucket, len(inList))
	}
	if len(s.strOf) != len(s.strKeys) {
		t.Fatalf("%d keys in strOf, %d in strKeys", len(s.strOf), len(s.strKeys))
	}
	owned := 0
	for owner, id := range s.owners {
		if id < 1 || int(id) > len(s.ownerTab) || s.ownerTab[id-1].name != owner || len(s.ownerTab[id-1].slots) == 0 {
			t.Fatalf("owner %q has entry %d", owner, id)
		}
		for i := range s.ownerTab[id-1].slots {
			if sl := s.slot(i); sl.owner != id || int(sl.ownerLen) != len(owner) || !inList[i] {
				t.Fatalf("owner index of %q holds slot %d of %q", owner, i, s.ownerOf(sl))
			}
			owned++
		}
	}
	if owned != s.owned.n {
		t.Fatalf("owner index holds %d records, owned list %d", owned, s.owned.n)
	}
	free := 0
	for id := s.ownerFree; id != 0; id = s.ownerTab[id-1].nextFree {
		if e := s.ownerTab[id-1]; e.name != "" || e.slots != nil {
			t.Fatalf("free owner entry %d holds %q", id, e.name)
		}
		if free++; free > len(s.ownerTab) {
			t.Fatalf("the free list of ownerTab loops")
		}
	}
	if len(s.owners)+free != len(s.ownerTab) {
		t.Fatalf("%d owners and %d free entries, %d in ownerTab", len(s.owners), free, len(s.ownerTab))
	}
	checkArena(t, s, inList)
}

// checkArena fails t unless every stored record's data has a block of its
// class of its own, or an entry in big, and every other block of the
// arena is free or not yet carved. s.mu must be held.
func checkArena(t *testing.T, s *Store, inList map[int32]bool) {
	t.Helper()
	owner := map[blockRef]int32{}
	big := 0
	for i := range inList {
		sl := s.slot(i)
		switch {
		case sl.class == noData:
			if sl.dataLen != 0 {
				t.Fatalf("slot %d: no data, length %d", i, sl.dataLen)
			}
		case sl.class == bigData:
			if d, ok := s.big[i]; !ok || len(d) != int(sl.dataLen) || len(d) <= maxClassSize {
				t.Fatalf("slot %d: big data of %d bytes, %d in big (present %v)", i, sl.dataLen, len(d), ok)
			}
			big++
		case int(sl.class) < numClasses:
			if sl.dataLen <= 0 || sl.dataLen > classSizes[sl.class] || classOf(int(sl.dataLen)) != sl.class {
				t.Fatalf("slot %d: %d bytes in class %d", i, sl.dataLen, sl.class)
			}
			if j, dup := owner[sl.blk]; dup {
				t.Fatalf("slots %d and %d share block %v", i, j, sl.blk)
			}
			owner[sl.blk] = i
			if chunk := s.arena.chunks[sl.blk.chunk]; sl.blk.off < 0 || int(sl.blk.off+classSizes[sl.class]) > len(chunk) {
				t.Fatalf("slot %d: block %v outside its chunk of %d bytes", i, sl.blk, len(chunk))
			}
		default:
			t.Fatalf("slot %d: class %d", i, sl.class)
		}
	}
	if big != len(s.big) {
		t.Fatalf("%d slots with big data, %d in big", big, len(s.big))
	}
	for c := range s.arena.classes {
		// A loop in the list revisits a block, which the check of
		// owner below reports as freed twice.
		for b := s.arena.classes[c].free; b != noBlock; b = s.arena.link(b) {
			if b.chunk < 0 || int(b.chunk) >= len(s.arena.chunks) || b.off < 0 || int(b.off+classSizes[c]) > len(s.arena.chunks[b.chunk]) {
				t.Fatalf("class %d: free block %v outside the arena", c, b)
			}
			if j, seen := owner[b]; seen {
				t.Fatalf("block %v of class %d is free and held by slot %d (-1: free twice)", b, c, j)
			}
			owner[b] = -1
		}
	}
}

// TestRandomOperations runs random operations against a small store and
// a plain map of what must be live, checking every index after each.
func TestRandomOperations(t *testing.T) {
	clk := newClock()
	s := New(Options{MaxEntries: 40, MaxBytes: 40 * 120, Now: clk.Now})
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := t.Context()
	names := make([]string, 60)
	for j := range names {
		if j%10 == 9 {
			names[j] = "not-hex-" + strconv.Itoa(j) // kept as a string
		} else {
			names[j] = key(strconv.FormatInt(int64(j), 16))
		}
	}
	owners := []string{"", "", "", "u1", "u2"}
	for step := range 20000 {
		k := names[rng.IntN(len(names))]
		switch op := rng.IntN(10); {
		case op < 4:
			var cur uint64
			if rec, err := s.Get(ctx, k); err == nil {
				cur = rec.Version
			}
			exp := clk.Now().Add(time.Duration(rng.IntN(20)-2) * time.Second)
			_, err := s.Put(ctx, k, httpsession.Record{Data: make([]byte, rng.IntN(60)), Owner: owners[rng.IntN(len(owners))], Expires: exp, Version: cur})
			if err != nil && !errors.Is(err, ErrFull) {
				t.Fatalf("step %d: Put: %v", step, err)
			}
		case op < 6:
			_, err := s.Get(ctx, k)
			if err != nil && !errors.Is(err, httpsession.ErrNotFound) {
				t.Fatalf("step %d: Get: %v", step, err)
			}
		case op < 7:
			err := s.Touch(ctx, k, clk.Now().Add(time.Duration(rng.IntN(20)-2)*time.Second))
			if err != nil && !errors.Is(err, httpsession.ErrNotFound) {
				t.Fatalf("step %d: Touch: %v", step, err)
			}
		case op < 8:
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		case op < 9:
			if _, err := s.DeleteExpired(ctx, rng.IntN(4)); err != nil {
				t.Fatal(err)
			}
		default:
			clk.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
		}
		checkInvariants(t, s)
		if n := s.Len(); n > 40 {
			t.Fatalf("step %d: %d records held, MaxEntries is 40", step, n)
		}
	}
	// Every record left expires within 20s; a sweep after that empties
	// the store.
	clk.Advance(30 * time.Second)
	if _, err := s.DeleteExpired(ctx, 0); err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, s)
	if n := s.Len(); n != 0 {
		t.Errorf("%d records left after every one expired and a sweep", n)
	}
}

// TestRandomSizes puts, rewrites, gets and removes records of sizes that
// cross the arena's classes, from empty to past maxClassSize, and checks
// that each Get returns the bytes put (each record's bytes follow from its
// first byte, so a block shared by two records or reused too early shows)
// and that every index and block is accounted for after each step.
func TestRandomSizes(t *testing.T) {
	clk := newClock()
	s := New(Options{MaxEntries: 40, MaxBytes: 300_000, Now: clk.Now})
	defer s.Close()
	rng := rand.New(rand.NewPCG(3, 4))
	ctx := t.Context()
	size := func() int {
		switch r := rng.IntN(20); {
		case r == 0:
			return 0
		case r < 12:
			return 1 + rng.IntN(300)
		case r < 18:
			return 1 + rng.IntN(maxClassSize)
		default:
			return maxClassSize - 2 + rng.IntN(8000)
		}
	}
	fill := func(n int) []byte {
		d := make([]byte, n)
		first := byte(rng.Uint32())
		for j := range d {
			d[j] = first + byte(j)
		}
		return d
	}
	check := func(step int, k string, d []byte) {
		for j := range d {
			if d[j] != d[0]+byte(j) {
				t.Fatalf("step %d: %q: byte %d of %d is %d, want %d", step, k, j, len(d), d[j], d[0]+byte(j))
			}
		}
	}
	owners := []string{"", "", "u1", "u2"}
	for step := range 6000 {
		k := key(strconv.Itoa(rng.IntN(60)))
		switch op := rng.IntN(10); {
		case op < 5:
			var cur uint64
			if rec, err := s.Get(ctx, k); err == nil {
				cur = rec.Version
				check(step, k, rec.Data)
			}
			rec := httpsession.Record{Data: fill(size()), Owner: owners[rng.IntN(len(owners))], Expires: clk.Now().Add(time.Duration(rng.IntN(20)-2) * time.Second), Version: cur}
			want := bytes.Clone(rec.Data)
			if _, err := s.Put(ctx, k, rec); err != nil {
				if !errors.Is(err, ErrFull) {
					t.Fatalf("step %d: Put of %d bytes: %v", step, len(rec.Data), err)
				}
				break
			}
			clear(rec.Data) // the store kept a copy
			if got, err := s.Get(ctx, k); err == nil && !bytes.Equal(got.Data, want) {
				t.Fatalf("step %d: Get after Put of %d bytes gave %d bytes, not those put", step, len(want), len(got.Data))
			}
		case op < 7:
			if rec, err := s.Get(ctx, k); err == nil {
				check(step, k, rec.Data)
			}
		case op < 8:
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		case op < 9:
			if _, err := s.DeleteExpired(ctx, rng.IntN(4)); err != nil {
				t.Fatal(err)
			}
		default:
			clk.Advance(time.Duration(rng.IntN(1500)) * time.Millisecond)
		}
		checkInvariants(t, s)
	}
}

// Keys of exactly 64 lowercase hex characters are kept as 32 bytes and
// come back as they went in; any other key is kept as its string.
func TestHexKeys(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	if k, ok := parseHex(hex); !ok || hexString(&k) != hex {
		t.Fatalf("parseHex(%q) = %x, %v", hex, k, ok)
	}
	for _, key := range []string{
		"", hex[:63], hex + "0", strings.ToUpper(hex),
		hex[:10] + "g" + hex[11:], hex[:63] + "/", hex[:63] + "\xff", hex[:31] + "A" + hex[32:],
	} {
		if _, ok := parseHex(key); ok {
			t.Errorf("parseHex(%q) took a key that is not 64 lowercase hex characters", key)
		}
	}
	s := New(Options{})
	ctx := context.Background()
	for _, key := range []string{hex, strings.ToUpper(hex), hex[:63] + "G"} {
		if _, err := s.Put(ctx, key, httpsession.Record{Data: []byte(key), Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	if err := s.List(ctx, func(key string, rec httpsession.Record) bool {
		if string(rec.Data) != key {
			t.Errorf("List: %q holds %q", key, rec.Data)
		}
		got = append(got, key)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("List gave %q, want the three keys put", got)
	}
}

// A record rewritten in the buffer of the one it replaces shares it with
// no one: not with the caller's slice, not with what Get returned before.
func TestPutInPlace(t *testing.T) {
	s := New(Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	first := []byte(strings.Repeat("a", 100))
	v, err := s.Put(ctx, "k", httpsession.Record{Data: first, Expires: exp})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	second := []byte(strings.Repeat("b", 90))
	if _, err := s.Put(ctx, "k", httpsession.Record{Data: second, Expires: exp, Version: v}); err != nil {
		t.Fatal(err)
	}
	second[0] = 'x'
	if string(got.Data) != string(first) {
		t.Fatalf("a rewrite changed what Get returned before: %q", got.Data)
	}
	now, err := s.Get(ctx, "k")
	if err != nil || string(now.Data) != strings.Repeat("b", 90) {
		t.Fatalf("after the rewrite Get = %q, %v; want 90 b's", now.Data, err)
	}
	if _, err := s.Put(ctx, "k", httpsession.Record{Expires: exp, Version: now.Version}); err != nil {
		t.Fatal(err)
	}
	if empty, err := s.Get(ctx, "k"); err != nil || empty.Data != nil {
		t.Fatalf("after a Put of nil Data, Get = %q (nil: %v), %v", empty.Data, empty.Data == nil, err)
	}
}
