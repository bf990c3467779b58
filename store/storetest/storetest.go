// Package storetest is the conformance suite that every httpsession store
// must pass.
//
// A store's tests call Run with a function that returns a fresh, empty
// store, and then add only what is special to that store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) httpsession.Store {
//			s := memstore.New(memstore.Options{})
//			t.Cleanup(func() { s.Close() })
//			return s
//		}, storetest.Options{})
//	}
//
// The factory is called once per subtest with that subtest's t, so it can
// register its own cleanup (close the store, drop the database) with
// t.Cleanup and report setup failures with t.Fatal. Subtests run one after
// another, never in parallel, so stores on one shared server need no
// isolation beyond being empty. Keys are 64 lowercase hex characters, as the
// Manager's are, and are unique to each subtest.
//
// Run covers the Store contract (get, put, delete, compare-and-set, expiry,
// large, binary and empty values, many keys, concurrent writers) and each
// optional interface the store implements: Toucher, Lister, Cleaner,
// OwnerIndex and Pinger. Subtests for an interface the store lacks are
// skipped with a message saying so; so are those of an interface whose
// method answers httpsession.ErrNotSupported, as a wrapper store's does
// when the store behind lacks it.
//
// The suite waits for real expiry, about three seconds in all on a
// fine-grained store plus a few multiples of Options.ExpiryGranularity.
// With -short, the many-keys subtest writes 1,000 keys instead of 10,000.
//
// # Rules the suite makes precise
//
// The suite pins down these points of the contract in store.go:
//
//   - A record is live while the current time is before its Expires. An
//     expired record counts as absent everywhere: Get returns ErrNotFound,
//     a Put with version 0 creates it afresh, a Put with a non-zero version
//     is ErrConflict, Touch is ErrNotFound, List and OwnerKeys leave it out.
//   - A Put whose Expires is already past succeeds and returns a version,
//     but leaves no live record.
//   - The version a successful Put returns is not 0 and is not one the
//     record has had before. Versions need not increase or be unique
//     across keys.
//   - Touch changes only Expires: Data, Owner and Version stay as they are,
//     so a writer that read the record before the Touch still wins its
//     compare-and-set. Touch may move Expires earlier as well as later.
//   - A Put that fails with ErrTooLarge writes nothing; the record that was
//     there, if any, is unchanged.
//   - Get returns Data the caller owns, and Put does not keep the caller's
//     slice: changing either afterwards does not change the store.
//   - List's fn may call the store's other methods, Delete included, and a
//     Delete of the key being visited makes List skip no other record.
//   - DeleteExpired with a limit of 0 or less removes every expired record.
//   - OwnerKeys of an owner with no live records, and of the empty owner,
//     returns no keys and no error; a record without an Owner is never
//     indexed.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

// Options describe what a store under test can do.
type Options struct {
	// ExpiryGranularity is how coarse the store's expiry is (memcached: 1s).
	// Zero means fine-grained: Expires round-trips within a millisecond and
	// a record expires within a millisecond of its Expires.
	ExpiryGranularity time.Duration
	// MaxRecordSize is the largest len(Record.Data) the store accepts for a
	// record with a 64-character key and no owner, or 0 if the store has no
	// limit (or one too large to test). When it is set, the suite checks
	// that Data of exactly that size round-trips and that one byte more is
	// ErrTooLarge.
	MaxRecordSize int
}

// callTimeout bounds every single store call the suite makes. Generous: a
// 1 MiB Put to Redis took over 10 s with the race detector on a 2-core
// machine at load average 50.
const callTimeout = 30 * time.Second

// Run runs the conformance suite against the stores that newStore returns.
// newStore must return a fresh, empty store each time it is called.
func Run(t *testing.T, newStore func(t *testing.T) httpsession.Store, opts Options) {
	t.Helper()
	type test struct {
		name string
		fn   func(c *checker)
	}
	groups := []struct {
		name  string
		needs func(httpsession.Store) bool // nil: part of the Store contract
		tests []test
	}{
		{"Get", nil, []test{
			{"Missing", testGetMissing},
		}},
		{"Put", nil, []test{
			{"RoundTrip", testPutRoundTrip},
			{"CreateExisting", testPutCreateExisting},
			{"Update", testPutUpdate},
			{"StaleVersion", testPutStaleVersion},
			{"NoResurrection", testPutNoResurrection},
		}},
		{"Delete", nil, []test{
			{"ThenGet", testDeleteThenGet},
			{"Missing", testDeleteMissing},
		}},
		{"Expiry", nil, []test{
			{"PastOnPut", testExpiryPastOnPut},
			{"Lapses", testExpiryLapses},
			{"AbsentEverywhere", testExpiryAbsentEverywhere},
		}},
		{"Data", nil, []test{
			{"Large", testDataLarge},
			{"TooLarge", testDataTooLarge},
			{"Binary", testDataBinary},
			{"Empty", testDataEmpty},
			{"NotAliased", testDataNotAliased},
		}},
		{"Concurrency", nil, []test{
			{"ManyKeys", testManyKeys},
			{"CASIncrements", testCASIncrements},
			{"CreateRace", testCreateRace},
		}},
		{"Toucher", offers[httpsession.Toucher], []test{
			{"MovesExpiry", testTouchMovesExpiry},
			{"Absent", testTouchAbsent},
		}},
		{"Lister", offers[httpsession.Lister], []test{
			{"LiveOnly", testListLiveOnly},
			{"Stop", testListStop},
			{"CallbackUsesStore", testListCallbackUsesStore},
		}},
		{"Cleaner", offers[httpsession.Cleaner], []test{
			{"DeleteExpired", testDeleteExpired},
		}},
		{"OwnerIndex", offers[httpsession.OwnerIndex], []test{
			{"Keys", testOwnerKeys},
			{"NoOwner", testOwnerNone},
		}},
		{"Pinger", offers[httpsession.Pinger], []test{
			{"Ping", testPing},
		}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			if g.needs != nil && !g.needs(newStore(t)) {
				t.Skipf("store does not implement httpsession.%s, or answers ErrNotSupported", g.name)
			}
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(&checker{t: t, s: newStore(t), opts: opts})
				})
			}
		})
	}
}

// offers reports whether s has the optional interface I: it implements I
// and a call of it on a key and an owner never written does not answer
// ErrNotSupported, as a wrapper over a store without I does.
func offers[I any](s httpsession.Store) bool {
	if _, ok := s.(I); !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	var err error
	switch any((*I)(nil)).(type) {
	case *httpsession.Toucher:
		err = s.(httpsession.Toucher).Touch(ctx, strings.Repeat("0", 64), time.Now().Add(time.Hour))
	case *httpsession.Lister:
		err = s.(httpsession.Lister).List(ctx, func(string, httpsession.Record) bool { return false })
	case *httpsession.Cleaner:
		_, err = s.(httpsession.Cleaner).DeleteExpired(ctx, 1)
	case *httpsession.OwnerIndex:
		_, err = s.(httpsession.OwnerIndex).OwnerKeys(ctx, "storetest: an owner never written")
	}
	return !errors.Is(err, httpsession.ErrNotSupported)
}

// checker is one subtest's store with helpers that bound every call with a
// timeout and compare records within the store's expiry granularity.
type checker struct {
	t    *testing.T
	s    httpsession.Store
	opts Options
}

// key returns a key that looks like the Manager's (sha256 hex) and is
// unique to the subtest and label.
func (c *checker) key(label string) string {
	sum := sha256.Sum256([]byte(c.t.Name() + "\x00" + label))
	return hex.EncodeToString(sum[:])
}

// call runs fn with a context that carries the suite's per-call deadline.
func (c *checker) call(fn func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(c.t.Context(), callTimeout)
	defer cancel()
	return fn(ctx)
}

func (c *checker) get(key string) (rec httpsession.Record, err error) {
	err = c.call(func(ctx context.Context) error {
		rec, err = c.s.Get(ctx, key)
		return err
	})
	return rec, err
}

func (c *checker) put(key string, rec httpsession.Record) (v uint64, err error) {
	err = c.call(func(ctx context.Context) error {
		v, err = c.s.Put(ctx, key, rec)
		return err
	})
	return v, err
}

func (c *checker) del(key string) error {
	return c.call(func(ctx context.Context) error { return c.s.Delete(ctx, key) })
}

// mustPut puts rec and fails the test unless the store accepts it with a
// non-zero version.
func (c *checker) mustPut(key string, rec httpsession.Record) uint64 {
	c.t.Helper()
	v, err := c.put(key, rec)
	if err != nil {
		c.t.Fatalf("Put(%.8s…, version %d): %v", key, rec.Version, err)
	}
	if v == 0 {
		c.t.Fatalf("Put(%.8s…) returned version 0", key)
	}
	return v
}

func (c *checker) mustGet(key string) httpsession.Record {
	c.t.Helper()
	rec, err := c.get(key)
	if err != nil {
		c.t.Fatalf("Get(%.8s…): %v", key, err)
	}
	return rec
}

func (c *checker) mustDelete(key string) {
	c.t.Helper()
	if err := c.del(key); err != nil {
		c.t.Fatalf("Delete(%.8s…): %v", key, err)
	}
}

// wantAbsent fails the test unless Get reports ErrNotFound.
func (c *checker) wantAbsent(key, why string) {
	c.t.Helper()
	rec, err := c.get(key)
	if !errors.Is(err, httpsession.ErrNotFound) {
		c.t.Fatalf("%s: Get(%.8s…) = (version %d, %q), %v; want ErrNotFound", why, key, rec.Version, clip(rec.Data), err)
	}
}

// wantConflict fails the test unless err wraps ErrConflict.
func (c *checker) wantConflict(err error, what string) {
	c.t.Helper()
	if !errors.Is(err, httpsession.ErrConflict) {
		c.t.Fatalf("%s: got error %v, want ErrConflict", what, err)
	}
}

// wantRecord fails the test unless Get returns want: same Data, Owner and
// Version, and Expires within the store's granularity.
func (c *checker) wantRecord(key string, want httpsession.Record) {
	c.t.Helper()
	got := c.mustGet(key)
	c.sameRecord("Get", got, want)
}

func (c *checker) sameRecord(what string, got, want httpsession.Record) {
	c.t.Helper()
	if string(got.Data) != string(want.Data) {
		c.t.Errorf("%s: Data = %q, want %q", what, clip(got.Data), clip(want.Data))
	}
	if got.Owner != want.Owner {
		c.t.Errorf("%s: Owner = %q, want %q", what, got.Owner, want.Owner)
	}
	if got.Version != want.Version {
		c.t.Errorf("%s: Version = %d, want %d", what, got.Version, want.Version)
	}
	if !c.near(got.Expires, want.Expires) {
		c.t.Errorf("%s: Expires = %v, want %v (within %v)", what, got.Expires, want.Expires, c.tolerance())
	}
}

// tolerance is how far a stored Expires may be from the one put.
func (c *checker) tolerance() time.Duration {
	return max(time.Millisecond, c.opts.ExpiryGranularity)
}

func (c *checker) near(a, b time.Time) bool {
	d := a.Sub(b)
	return d.Abs() <= c.tolerance()
}

// earlyTolerance is how long before its Expires, measured on the wall
// clock, a store may report a record gone. Both the store and the suite read
// the same wall clock, so an NTP slew cannot eat into it; 20ms is room for a
// small clock step while a store that ends records early by a real margin
// (truncating to seconds, a TTL in the wrong unit) still fails.
func (c *checker) earlyTolerance() time.Duration {
	return 20*time.Millisecond + c.opts.ExpiryGranularity
}

// wallUntil is the time from now until t on the wall clock. Stores decide
// expiry by the wall clock (their own time.Now against a stored time, or a
// server's TTL), while time.Until(t) for a t from time.Now measures with the
// monotonic clock; the two drift apart while NTP slews the wall clock (5ms a
// second has been seen), which made a correct store look early.
func wallUntil(t time.Time) time.Duration {
	return t.Round(0).Sub(time.Now().Round(0))
}

// sleepPast sleeps until the store must consider a record with Expires
// `when` expired: until the wall clock, not only the monotonic one, is past
// it.
func (c *checker) sleepPast(when time.Time) {
	when = when.Add(c.opts.ExpiryGranularity + 50*time.Millisecond)
	for d := wallUntil(when); d > 0; d = wallUntil(when) {
		time.Sleep(d)
	}
}

// eventually polls check until it returns nil, for at most within; it fails
// the test with the last error otherwise.
func (c *checker) eventually(within time.Duration, check func() error) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("still after %v: %v", within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clip shortens data for error messages.
func clip(b []byte) []byte {
	if len(b) > 40 {
		return append(b[:40:40], "…"...)
	}
	return b
}
