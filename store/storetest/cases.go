package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

// record is shortened for the tables below.
type record = httpsession.Record

// inAnHour is a far-enough expiry for records that must stay live.
func inAnHour() time.Time { return time.Now().Add(time.Hour) }

// shortLife is how long records that the suite waits to expire live,
// besides the store's granularity: long enough for a few calls first.
const shortLife = 700 * time.Millisecond

func testGetMissing(c *checker) {
	c.wantAbsent(c.key("never-put"), "key never put")
}

func testPutRoundTrip(c *checker) {
	k := c.key("a")
	want := record{Data: []byte("hello, session"), Owner: "user-42@example.com", Expires: inAnHour()}
	want.Version = c.mustPut(k, want)
	c.wantRecord(k, want)
}

func testPutCreateExisting(c *checker) {
	k := c.key("a")
	want := record{Data: []byte("first"), Expires: inAnHour()}
	want.Version = c.mustPut(k, want)
	_, err := c.put(k, record{Data: []byte("second"), Expires: inAnHour()})
	c.wantConflict(err, "Put with version 0 on a live key")
	c.wantRecord(k, want)
}

func testPutUpdate(c *checker) {
	k := c.key("a")
	v1 := c.mustPut(k, record{Data: []byte("one"), Owner: "u1", Expires: inAnHour()})
	want := record{Data: []byte("two"), Owner: "u2", Expires: time.Now().Add(2 * time.Hour), Version: v1}
	v2 := c.mustPut(k, want)
	if v2 == v1 {
		c.t.Fatalf("Put with the current version returned the same version %d", v1)
	}
	want.Version = v2
	c.wantRecord(k, want)
}

func testPutStaleVersion(c *checker) {
	k := c.key("a")
	v1 := c.mustPut(k, record{Data: []byte("one"), Expires: inAnHour()})
	want := record{Data: []byte("two"), Expires: inAnHour(), Version: v1}
	want.Version = c.mustPut(k, want)

	_, err := c.put(k, record{Data: []byte("stale"), Expires: inAnHour(), Version: v1})
	c.wantConflict(err, "Put with the replaced version")
	_, err = c.put(k, record{Data: []byte("made up"), Expires: inAnHour(), Version: want.Version + 12345})
	c.wantConflict(err, "Put with a version never issued")
	c.wantRecord(k, want)
}

func testPutNoResurrection(c *checker) {
	missing := c.key("never-put")
	_, err := c.put(missing, record{Data: []byte("x"), Expires: inAnHour(), Version: 1})
	c.wantConflict(err, "Put with version 1 on a key never put")
	c.wantAbsent(missing, "after a conflicting Put on a key never put")

	k := c.key("deleted")
	v := c.mustPut(k, record{Data: []byte("x"), Expires: inAnHour()})
	c.mustDelete(k)
	_, err = c.put(k, record{Data: []byte("back from the dead"), Expires: inAnHour(), Version: v})
	c.wantConflict(err, "Put with the version of a deleted record")
	c.wantAbsent(k, "after a conflicting Put on a deleted key")

	// The key is free: a create works.
	c.mustPut(k, record{Data: []byte("new"), Expires: inAnHour()})
}

func testDeleteThenGet(c *checker) {
	k, other := c.key("a"), c.key("b")
	c.mustPut(k, record{Data: []byte("a"), Expires: inAnHour()})
	keep := record{Data: []byte("b"), Expires: inAnHour()}
	keep.Version = c.mustPut(other, keep)
	c.mustDelete(k)
	c.wantAbsent(k, "after Delete")
	c.wantRecord(other, keep)
}

func testDeleteMissing(c *checker) {
	k := c.key("never-put")
	c.mustDelete(k)
	c.mustPut(k, record{Data: []byte("a"), Expires: inAnHour()})
	c.mustDelete(k)
	c.mustDelete(k) // twice
	c.wantAbsent(k, "after two Deletes")
}

func testExpiryPastOnPut(c *checker) {
	k := c.key("a")
	v := c.mustPut(k, record{Data: []byte("born dead"), Expires: time.Now().Add(-time.Hour)})
	c.wantAbsent(k, "record put with Expires in the past")
	_, err := c.put(k, record{Data: []byte("x"), Expires: inAnHour(), Version: v})
	c.wantConflict(err, "Put with the version of a record put already expired")
	c.wantAbsent(k, "after a conflicting Put on an expired record")

	want := record{Data: []byte("alive"), Expires: inAnHour()}
	want.Version = c.mustPut(k, want)
	c.wantRecord(k, want)

	// Put with a past Expires over a live record ends it too.
	c.mustPut(k, record{Data: []byte("ended"), Expires: time.Now().Add(-time.Minute), Version: want.Version})
	c.wantAbsent(k, "after a Put with Expires in the past over a live record")
}

func testExpiryLapses(c *checker) {
	k := c.key("a")
	gran := c.opts.ExpiryGranularity
	want := record{Data: []byte("short-lived"), Expires: time.Now().Add(1500*time.Millisecond + gran)}
	want.Version = c.mustPut(k, want)
	c.wantRecord(k, want)

	// Poll until the record is gone. A Get that starts well after Expires
	// must not find it; one that ends before Expires must. Both sides are
	// read on the wall clock, as the store reads it (see wallUntil).
	late := c.tolerance() + 100*time.Millisecond
	c.eventually(wallUntil(want.Expires)+2*gran+2*time.Second, func() error {
		start := wallUntil(want.Expires)
		_, err := c.get(k)
		switch {
		case errors.Is(err, httpsession.ErrNotFound):
			if early := wallUntil(want.Expires); early > c.earlyTolerance() {
				c.t.Fatalf("record expired %v before its Expires %v (wall clock now %v; allowed %v)",
					early, want.Expires.Round(0), time.Now().Round(0), c.earlyTolerance())
			}
			return nil
		case err != nil:
			c.t.Fatalf("Get while waiting for expiry: %v", err)
		case -start > late:
			c.t.Fatalf("record still returned by a Get that started %v after its Expires %v (allowed %v)",
				-start, want.Expires.Round(0), late)
		}
		return fmt.Errorf("record with Expires %v still returned at %v", want.Expires.Round(0), time.Now().Round(0))
	})

	_, err := c.put(k, record{Data: []byte("x"), Expires: inAnHour(), Version: want.Version})
	c.wantConflict(err, "Put with the version of an expired record")
	c.wantAbsent(k, "after a conflicting Put on an expired record")
	again := record{Data: []byte("again"), Expires: inAnHour()}
	again.Version = c.mustPut(k, again)
	c.wantRecord(k, again)
}

// testExpiryAbsentEverywhere checks that a record that was live and then
// expired counts as absent for every method, including those of the
// optional interfaces. Each check has its own record, because a store may
// remove an expired record when it meets one, which would hide the next
// check's bug; List, which meets them all, comes last.
func testExpiryAbsentEverywhere(c *checker) {
	soon := time.Now().Add(shortLife + c.opts.ExpiryGranularity)
	expiring := map[string]uint64{}
	for _, label := range []string{"put", "touch", "owner", "list"} {
		owner := ""
		if label == "owner" {
			owner = "u1"
		}
		expiring[label] = c.mustPut(c.key(label), record{Data: []byte(label), Owner: owner, Expires: soon})
	}
	live := record{Data: []byte("live"), Owner: "u1", Expires: inAnHour()}
	live.Version = c.mustPut(c.key("live"), live)
	c.sleepPast(soon)

	_, err := c.put(c.key("put"), record{Data: []byte("x"), Expires: inAnHour(), Version: expiring["put"]})
	c.wantConflict(err, "Put with the version of an expired record")
	c.wantAbsent(c.key("put"), "after a conflicting Put on an expired record")

	if offers[httpsession.Toucher](c.s) {
		if err := c.touch(c.key("touch"), inAnHour()); !errors.Is(err, httpsession.ErrNotFound) {
			c.t.Errorf("Touch of an expired record: got error %v, want ErrNotFound", err)
		}
		c.wantAbsent(c.key("touch"), "after Touch of an expired record")
	}
	if offers[httpsession.OwnerIndex](c.s) {
		if d := c.ownerDiff("u1", c.key("live")); d != "" {
			c.t.Errorf("%s after a record of u1 expired", d)
		}
	}
	if offers[httpsession.Lister](c.s) {
		got := c.list()
		for k, rec := range got {
			if k != c.key("live") {
				c.t.Errorf("List passed %.8s… (%q) after it expired", k, clip(rec.Data))
			}
		}
		if _, ok := got[c.key("live")]; !ok {
			c.t.Error("List missed the live record")
		}
	}

	for label := range expiring {
		c.wantAbsent(c.key(label), "expired record "+label)
	}
	c.wantRecord(c.key("live"), live)
	// An expired record counts as absent: a create works.
	c.mustPut(c.key("list"), record{Data: []byte("new"), Expires: inAnHour()})
}

// randomBytes returns n bytes that no store can compress away.
func randomBytes(n int) []byte {
	r := rand.NewChaCha8([32]byte{1})
	b := make([]byte, n)
	_, _ = r.Read(b)
	return b
}

func (c *checker) roundTripBytes(label string, data []byte) {
	c.t.Helper()
	k := c.key(label)
	v := c.mustPut(k, record{Data: data, Expires: inAnHour()})
	got := c.mustGet(k)
	if got.Version != v {
		c.t.Errorf("%s: Version = %d, want %d", label, got.Version, v)
	}
	if !bytes.Equal(got.Data, data) {
		i := 0
		for i < len(got.Data) && i < len(data) && got.Data[i] == data[i] {
			i++
		}
		c.t.Fatalf("%s: %d bytes came back as %d bytes, first difference at byte %d", label, len(data), len(got.Data), i)
	}
}

func testDataLarge(c *checker) {
	size := 1 << 20
	if m := c.opts.MaxRecordSize; m > 0 && m < size {
		size = m
	}
	c.roundTripBytes("large", randomBytes(size))
	if m := c.opts.MaxRecordSize; m > size {
		c.roundTripBytes("at-limit", randomBytes(m))
	}
}

func testDataTooLarge(c *checker) {
	limit := c.opts.MaxRecordSize
	if limit <= 0 {
		c.t.Skip("Options.MaxRecordSize is 0: the store has no limit to check")
	}
	big := randomBytes(limit + 1)

	k := c.key("new")
	_, err := c.put(k, record{Data: big, Expires: inAnHour()})
	if !errors.Is(err, httpsession.ErrTooLarge) {
		c.t.Fatalf("Put of %d bytes (limit %d): got error %v, want ErrTooLarge", len(big), limit, err)
	}
	c.wantAbsent(k, "after a Put that was too large")

	k = c.key("existing")
	want := record{Data: []byte("small"), Expires: inAnHour()}
	want.Version = c.mustPut(k, want)
	_, err = c.put(k, record{Data: big, Expires: inAnHour(), Version: want.Version})
	if !errors.Is(err, httpsession.ErrTooLarge) {
		c.t.Fatalf("update to %d bytes (limit %d): got error %v, want ErrTooLarge", len(big), limit, err)
	}
	c.wantRecord(k, want)
}

func testDataBinary(c *checker) {
	data := []byte{0, 0}
	for i := range 256 {
		data = append(data, byte(i))
	}
	for i := range 256 {
		data = append(data, byte(255-i))
	}
	data = append(data, 0, '\n', '\r', 0)
	c.roundTripBytes("binary", data)
	c.roundTripBytes("nul", []byte{0})
}

func testDataEmpty(c *checker) {
	for _, data := range [][]byte{{}, nil} {
		k := c.key(fmt.Sprintf("empty-%v", data == nil))
		v := c.mustPut(k, record{Data: data, Expires: inAnHour()})
		got := c.mustGet(k)
		if len(got.Data) != 0 || got.Version != v {
			c.t.Errorf("Put of %#v: Get = (%q, version %d), want (empty, version %d)", data, got.Data, got.Version, v)
		}
	}
}

func testDataNotAliased(c *checker) {
	k := c.key("a")
	buf := []byte("original")
	want := record{Data: bytes.Clone(buf), Expires: inAnHour()}
	want.Version = c.mustPut(k, record{Data: buf, Expires: want.Expires})
	copy(buf, "CHANGED!")
	c.wantRecord(k, want)

	got := c.mustGet(k)
	copy(got.Data, "CHANGED!")
	c.wantRecord(k, want)
}

// forEach calls fn(i) for i in [0, n) from a few goroutines and reports
// the first errors.
func (c *checker) forEach(n int, fn func(i int) error) {
	c.t.Helper()
	const workers = 8
	var failures atomic.Int32
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					if failures.Add(1) <= 5 {
						c.t.Errorf("item %d: %v", i, err)
					}
					return
				}
			}
		})
	}
	wg.Wait()
	if failures.Load() > 0 {
		c.t.FailNow()
	}
}

func testManyKeys(c *checker) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	keys := make([]string, n)
	versions := make([]uint64, n)
	for i := range keys {
		keys[i] = c.key(strconv.Itoa(i))
	}
	expires := inAnHour()
	value := func(i int) []byte { return fmt.Appendf(nil, "value %d", i) }

	c.forEach(n, func(i int) error {
		v, err := c.put(keys[i], record{Data: value(i), Expires: expires})
		if err == nil && v == 0 {
			err = errors.New("version 0 from Put")
		}
		versions[i] = v
		return err
	})
	c.forEach(n, func(i int) error {
		rec, err := c.get(keys[i])
		switch {
		case err != nil:
			return fmt.Errorf("get: %w", err)
		case !bytes.Equal(rec.Data, value(i)):
			return fmt.Errorf("data = %q, want %q", rec.Data, value(i))
		case rec.Version != versions[i]:
			return fmt.Errorf("version = %d, want %d", rec.Version, versions[i])
		}
		return nil
	})
}

// increment adds one to the decimal counter under key by compare-and-set,
// retrying conflicts with a short random backoff.
func (c *checker) increment(key string, expires time.Time) error {
	const maxAttempts = 2000
	for attempt := range maxAttempts {
		rec, err := c.get(key)
		if err != nil {
			return fmt.Errorf("get: %w", err)
		}
		n, err := strconv.Atoi(string(rec.Data))
		if err != nil {
			return fmt.Errorf("counter %q: %w", clip(rec.Data), err)
		}
		_, err = c.put(key, record{Data: strconv.AppendInt(nil, int64(n+1), 10), Expires: expires, Version: rec.Version})
		if err == nil {
			return nil
		}
		if !errors.Is(err, httpsession.ErrConflict) {
			return fmt.Errorf("put: %w", err)
		}
		time.Sleep(time.Duration(rand.IntN(1+min(attempt, 10))) * 100 * time.Microsecond)
	}
	return fmt.Errorf("no increment after %d attempts", maxAttempts)
}

func testCASIncrements(c *checker) {
	const writers = 50
	k := c.key("counter")
	expires := inAnHour()
	c.mustPut(k, record{Data: []byte("0"), Expires: expires})

	start := make(chan struct{})
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			<-start
			if err := c.increment(k, expires); err != nil {
				c.t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := c.mustGet(k); string(got.Data) != strconv.Itoa(writers) {
		c.t.Fatalf("after %d concurrent increments the counter is %q", writers, got.Data)
	}
}

func testCreateRace(c *checker) {
	const writers = 20
	k := c.key("contested")
	expires := inAnHour()
	var (
		mu      sync.Mutex
		winners []record
	)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			rec := record{Data: fmt.Appendf(nil, "writer %d", i), Expires: expires}
			<-start
			v, err := c.put(k, rec)
			switch {
			case err == nil:
				rec.Version = v
				mu.Lock()
				winners = append(winners, rec)
				mu.Unlock()
			case !errors.Is(err, httpsession.ErrConflict):
				c.t.Errorf("writer %d: got error %v, want nil or ErrConflict", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		c.t.Fatalf("%d of %d concurrent creates of one key succeeded, want exactly 1", len(winners), writers)
	}
	c.wantRecord(k, winners[0])
}

func (c *checker) touch(key string, expires time.Time) error {
	return c.call(func(ctx context.Context) error {
		return c.s.(httpsession.Toucher).Touch(ctx, key, expires)
	})
}

func testTouchMovesExpiry(c *checker) {
	k := c.key("a")
	want := record{Data: []byte("touch me"), Owner: "u1", Expires: inAnHour()}
	want.Version = c.mustPut(k, want)

	for _, d := range []time.Duration{2 * time.Hour, 30 * time.Minute} {
		want.Expires = time.Now().Add(d)
		if err := c.touch(k, want.Expires); err != nil {
			c.t.Fatalf("Touch: %v", err)
		}
		// Touch keeps Data, Owner and Version.
		c.wantRecord(k, want)
	}

	// A writer that read the record before the Touch still wins.
	c.mustPut(k, record{Data: []byte("written after touch"), Expires: want.Expires, Version: want.Version})
}

func testTouchAbsent(c *checker) {
	for _, tc := range []struct {
		label string
		setup func(k string)
	}{
		{"never-put", func(string) {}},
		{"deleted", func(k string) {
			c.mustPut(k, record{Data: []byte("x"), Expires: inAnHour()})
			c.mustDelete(k)
		}},
		{"expired", func(k string) {
			c.mustPut(k, record{Data: []byte("x"), Expires: time.Now().Add(-time.Hour)})
		}},
	} {
		k := c.key(tc.label)
		tc.setup(k)
		if err := c.touch(k, inAnHour()); !errors.Is(err, httpsession.ErrNotFound) {
			c.t.Errorf("Touch of a %s key: got error %v, want ErrNotFound", tc.label, err)
		}
		c.wantAbsent(k, "after Touch of a "+tc.label+" key")
	}
}

// list collects what List passes to fn, failing on a key seen twice.
func (c *checker) list() map[string]record {
	c.t.Helper()
	seen := map[string]record{}
	err := c.call(func(ctx context.Context) error {
		return c.s.(httpsession.Lister).List(ctx, func(key string, rec record) bool {
			if _, dup := seen[key]; dup {
				c.t.Errorf("List passed key %.8s… twice", key)
			}
			seen[key] = rec
			return true
		})
	})
	if err != nil {
		c.t.Fatalf("List: %v", err)
	}
	return seen
}

func testListLiveOnly(c *checker) {
	if got := c.list(); len(got) != 0 {
		c.t.Fatalf("List of an empty store passed %d records", len(got))
	}
	live := map[string]record{}
	for i, owner := range []string{"u1", "u2", ""} {
		k := c.key(fmt.Sprint("live", i))
		rec := record{Data: fmt.Appendf(nil, "live %d", i), Owner: owner, Expires: time.Now().Add(time.Duration(i+1) * time.Hour)}
		rec.Version = c.mustPut(k, rec)
		live[k] = rec
	}
	deleted := c.key("deleted")
	c.mustPut(deleted, record{Data: []byte("deleted"), Expires: inAnHour()})
	c.mustDelete(deleted)
	c.mustPut(c.key("expired"), record{Data: []byte("expired"), Expires: time.Now().Add(-time.Hour)})

	got := c.list()
	for k, rec := range got {
		want, ok := live[k]
		if !ok {
			c.t.Errorf("List passed %.8s… (%q), which is not live", k, clip(rec.Data))
			continue
		}
		c.sameRecord("List", rec, want)
	}
	for k := range live {
		if _, ok := got[k]; !ok {
			c.t.Errorf("List missed live key %.8s…", k)
		}
	}
	// List leaves expiry alone.
	for k, want := range live {
		c.wantRecord(k, want)
	}
}

func testListStop(c *checker) {
	for i := range 5 {
		c.mustPut(c.key(strconv.Itoa(i)), record{Data: []byte("x"), Expires: inAnHour()})
	}
	calls := 0
	err := c.call(func(ctx context.Context) error {
		return c.s.(httpsession.Lister).List(ctx, func(string, record) bool {
			calls++
			return false
		})
	})
	if err != nil {
		c.t.Fatalf("List: %v", err)
	}
	if calls != 1 {
		c.t.Fatalf("List called fn %d times after it returned false, want 1 call", calls)
	}
}

func testListCallbackUsesStore(c *checker) {
	const n = 5
	keys := map[string]bool{}
	for i := range n {
		k := c.key(strconv.Itoa(i))
		c.mustPut(k, record{Data: []byte("x"), Expires: inAnHour()})
		keys[k] = true
	}
	// Deleting from inside List is how a caller destroys all sessions of
	// an owner on a store without OwnerIndex. A store that holds a lock
	// across fn deadlocks here; one that pages by offset skips records.
	seen := map[string]bool{}
	done := make(chan error, 1)
	go func() {
		done <- c.call(func(ctx context.Context) error {
			return c.s.(httpsession.Lister).List(ctx, func(key string, _ record) bool {
				seen[key] = true
				if _, err := c.s.Get(ctx, key); err != nil {
					c.t.Errorf("Get inside List: %v", err)
				}
				if err := c.s.Delete(ctx, key); err != nil {
					c.t.Errorf("Delete inside List: %v", err)
				}
				return true
			})
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			c.t.Fatalf("List: %v", err)
		}
	case <-time.After(callTimeout + time.Second):
		c.t.Fatal("List did not return when fn called Get and Delete: does it hold a lock across fn?")
	}
	for k := range keys {
		if !seen[k] {
			c.t.Errorf("List skipped %.8s… while fn deleted the keys it visited", k)
		}
		c.wantAbsent(k, "after Delete inside List")
	}
}

func (c *checker) deleteExpired(limit int) int {
	c.t.Helper()
	var n int
	err := c.call(func(ctx context.Context) (err error) {
		n, err = c.s.(httpsession.Cleaner).DeleteExpired(ctx, limit)
		return err
	})
	if err != nil {
		c.t.Fatalf("DeleteExpired(%d): %v", limit, err)
	}
	return n
}

func testDeleteExpired(c *checker) {
	if n := c.deleteExpired(10); n != 0 {
		c.t.Fatalf("DeleteExpired on an empty store removed %d", n)
	}
	soon := time.Now().Add(shortLife + c.opts.ExpiryGranularity)
	var expiring []string
	for i := range 5 {
		k := c.key(fmt.Sprint("expiring", i))
		c.mustPut(k, record{Data: []byte("x"), Expires: soon})
		expiring = append(expiring, k)
	}
	live := map[string]record{}
	for i := range 3 {
		k := c.key(fmt.Sprint("live", i))
		rec := record{Data: []byte("live"), Expires: inAnHour()}
		rec.Version = c.mustPut(k, rec)
		live[k] = rec
	}
	c.sleepPast(soon)

	if n := c.deleteExpired(2); n != 2 {
		c.t.Errorf("DeleteExpired(2) with 5 expired records removed %d, want 2", n)
	}
	if n := c.deleteExpired(0); n != 3 {
		c.t.Errorf("DeleteExpired(0) with 3 expired records left removed %d, want 3", n)
	}
	if n := c.deleteExpired(0); n != 0 {
		c.t.Errorf("DeleteExpired(0) with no expired records removed %d", n)
	}
	for k, want := range live {
		c.wantRecord(k, want)
	}
	for _, k := range expiring {
		c.wantAbsent(k, "after DeleteExpired")
	}
	c.mustPut(expiring[0], record{Data: []byte("new"), Expires: inAnHour()})
}

func (c *checker) ownerKeys(owner string) []string {
	c.t.Helper()
	var keys []string
	err := c.call(func(ctx context.Context) (err error) {
		keys, err = c.s.(httpsession.OwnerIndex).OwnerKeys(ctx, owner)
		return err
	})
	if err != nil {
		c.t.Fatalf("OwnerKeys(%q): %v", owner, err)
	}
	return keys
}

// ownerDiff describes how OwnerKeys(owner) differs from want, or is "".
func (c *checker) ownerDiff(owner string, want ...string) string {
	got := slices.Sorted(slices.Values(c.ownerKeys(owner)))
	want = slices.Sorted(slices.Values(want))
	if slices.Equal(got, want) {
		return ""
	}
	return fmt.Sprintf("OwnerKeys(%q) = %.8s, want %.8s", owner, got, want)
}

func (c *checker) wantOwner(owner string, want ...string) {
	c.t.Helper()
	if d := c.ownerDiff(owner, want...); d != "" {
		c.t.Fatal(d)
	}
}

func testOwnerKeys(c *checker) {
	c.wantOwner("u1")
	k1, k2, k3, k4 := c.key("k1"), c.key("k2"), c.key("k3"), c.key("k4")
	versions := map[string]uint64{}
	for _, k := range []string{k1, k2, k3} {
		versions[k] = c.mustPut(k, record{Data: []byte("x"), Owner: "u1", Expires: inAnHour()})
	}
	c.mustPut(k4, record{Data: []byte("x"), Owner: "u2", Expires: inAnHour()})
	c.wantOwner("u1", k1, k2, k3)
	c.wantOwner("u2", k4)

	c.mustDelete(k1)
	c.wantOwner("u1", k2, k3)

	// An owner change moves the key.
	c.mustPut(k2, record{Data: []byte("y"), Owner: "u2", Expires: inAnHour(), Version: versions[k2]})
	c.wantOwner("u1", k3)
	c.wantOwner("u2", k2, k4)

	// A record put already expired is not listed.
	c.mustPut(c.key("dead"), record{Data: []byte("x"), Owner: "u1", Expires: time.Now().Add(-time.Hour)})
	c.wantOwner("u1", k3)
}

func testOwnerNone(c *checker) {
	k := c.key("a")
	v := c.mustPut(k, record{Data: []byte("x"), Expires: inAnHour()})
	c.wantOwner("")

	// Clearing the owner removes the key from the index.
	v = c.mustPut(k, record{Data: []byte("x"), Owner: "u1", Expires: inAnHour(), Version: v})
	c.wantOwner("u1", k)
	c.mustPut(k, record{Data: []byte("x"), Expires: inAnHour(), Version: v})
	c.wantOwner("u1")
	c.wantOwner("")
}

func testPing(c *checker) {
	err := c.call(func(ctx context.Context) error {
		return c.s.(httpsession.Pinger).Ping(ctx)
	})
	if err != nil {
		c.t.Fatalf("Ping: %v", err)
	}
}
