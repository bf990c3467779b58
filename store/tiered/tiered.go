// Package tiered puts an in-process read cache in front of a shared
// httpsession store, as Apache::Session::Memorycached's "local" cache did.
//
// Every instance of a program keeps recently used records in a local
// memstore. A Get is answered from the local copy while the copy is
// younger than Options.MaxStale, and from the shared store (which then
// refreshes the copy) otherwise. Put, Delete and Touch go to the shared
// store first and then update or drop the local copy.
//
// # Staleness bound
//
// The age of a local copy is measured from the moment this instance began
// the shared-store call that produced it (a Get, or a Put of its own), on
// Options.Now. So a record that Get returns from a local copy is what the
// shared store held at some instant at most MaxStale before the Get:
//
//   - Writes, deletes and touches made through OTHER instances are seen at
//     most MaxStale late. In particular a session that another instance
//     destroyed (a logout) may still load here for up to MaxStale; any
//     write to it from here fails the compare-and-set and is dropped, as
//     the Manager does when a session ends under a request.
//   - Writes, deletes and touches made through THIS instance are never
//     stale here: once they return, the next Get sees them (or something
//     newer), even when other calls on the same key ran concurrently.
//   - Compare-and-set is never affected: every Put goes to the shared
//     store, whose compare-and-set decides. A Put that loses it (a
//     conflict), or fails in any other way, drops the local copy, so the
//     Manager's reload after a conflict reads the shared store.
//   - A local copy ends at the record's Expires (on Local.Now, time.Now by
//     default), so an expired record is never returned. A Touch by another
//     instance that moved Expires earlier is seen up to MaxStale late, like
//     any other write.
//
// # Optional interfaces
//
// A tiered Store has every method of httpsession.Toucher, Lister, Cleaner,
// OwnerIndex and Pinger. Touch, List, DeleteExpired and OwnerKeys pass
// through to the shared store, or answer an error wrapping
// httpsession.ErrNotSupported when it lacks the interface (over memcached,
// List does); the Manager, admin and sessionctl then do what they do for a
// store without that interface (sessions.Of scans, sessions.Iterate reports
// ErrNotSupported, the janitor stops). Ping pings the shared store if that
// can be pinged, and answers nil otherwise.
package tiered

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memstore"
)

var (
	_ httpsession.Toucher    = (*Store)(nil)
	_ httpsession.Lister     = (*Store)(nil)
	_ httpsession.Cleaner    = (*Store)(nil)
	_ httpsession.OwnerIndex = (*Store)(nil)
	_ httpsession.Pinger     = (*Store)(nil)
)

// Options configure a tiered store.
type Options struct {
	// MaxStale is how long a local copy may answer Gets without asking the
	// shared store: the most that a read can lag behind writes made by
	// other instances. It is required; 1 second is a good start.
	MaxStale time.Duration
	// Local bounds the local cache (entries and bytes; the least recently
	// used copy goes first). Its zero value gives memstore's defaults.
	// Local.Now is the clock of the copies' expiry, time.Now by default.
	Local memstore.Options
	// Now is the clock that measures the age of local copies against
	// MaxStale. The default is time.Now; tests set a fake one.
	Now func() time.Time
}

// Stats count how a tiered store answered Gets.
type Stats struct {
	// LocalHits is the number of Gets answered from a local copy.
	LocalHits uint64
	// SharedGets is the number of Gets that went to the shared store.
	SharedGets uint64
}

// stripeCount is the number of locks that order local-copy updates; keys
// share them by hash.
const stripeCount = 256

// Store is an in-process read cache in front of a shared store. It is an
// httpsession.Store with every optional interface (see the package
// documentation) and is safe for concurrent use. Create it with New.
type Store struct {
	shared   httpsession.Store
	local    *memstore.Store
	maxStale time.Duration
	now      func() time.Time
	seed     maphash.Seed
	stripes  [stripeCount]stripe
	hits     atomic.Uint64
	misses   atomic.Uint64
}

// stripe orders the updates of local copies of the keys that hash to it.
// gen counts the updates; a call that read gen before its shared-store
// round trip may install what it got only if gen has not moved since, so
// that a slow call never puts back a copy older than one that a later
// call installed or dropped.
type stripe struct {
	mu  sync.Mutex
	gen uint64
}

// New returns a tiered store that caches shared's records in process.
// Call Close when done with it.
func New(shared httpsession.Store, opts Options) (*Store, error) {
	if shared == nil {
		return nil, errors.New("tiered: New needs a shared store")
	}
	if opts.MaxStale <= 0 {
		return nil, fmt.Errorf("tiered: Options.MaxStale is %v: want more than 0 (1s is a good start)", opts.MaxStale)
	}
	s := &Store{
		shared:   shared,
		local:    memstore.New(opts.Local),
		maxStale: opts.MaxStale,
		now:      opts.Now,
		seed:     maphash.MakeSeed(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// background is the context of local-cache calls: an update of the local
// copy must happen even when the caller's context has ended, or a stale
// copy could stay.
var background = context.Background()

// Get returns the local copy of the record under key while it is younger
// than MaxStale, and otherwise the shared store's record, which it keeps
// as the new local copy.
func (s *Store) Get(ctx context.Context, key string) (httpsession.Record, error) {
	if rec, ok := s.fresh(key); ok {
		s.hits.Add(1)
		return rec, nil
	}
	s.misses.Add(1)
	st := s.stripe(key)
	gen := st.generation()
	fetched := s.now()
	rec, err := s.shared.Get(ctx, key)
	switch {
	case err == nil:
		st.settle(gen, func() { s.install(key, rec, fetched) }, nil)
	case errors.Is(err, httpsession.ErrNotFound):
		st.settle(gen, func() { s.drop(key) }, nil)
	}
	return rec, err
}

// Put writes rec to the shared store, whose compare-and-set decides, and
// then keeps it, with the version the shared store gave it, as the local
// copy. When the shared store refuses or fails, the local copy is dropped.
func (s *Store) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	st := s.stripe(key)
	gen := st.generation()
	written := s.now()
	v, err := s.shared.Put(ctx, key, rec)
	st.settle(gen, func() {
		if err != nil {
			s.drop(key)
			return
		}
		rec.Version = v
		s.install(key, rec, written)
	}, func() { s.drop(key) })
	return v, err
}

// Delete removes the record from the shared store and drops the local
// copy, even when the shared store fails.
func (s *Store) Delete(ctx context.Context, key string) error {
	err := s.shared.Delete(ctx, key)
	s.stripe(key).settle(0, nil, func() { s.drop(key) })
	return err
}

// Ping pings the shared store if it implements httpsession.Pinger, and
// returns nil otherwise.
func (s *Store) Ping(ctx context.Context) error {
	if p, ok := s.shared.(httpsession.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Stats returns counts of how Gets were answered.
func (s *Store) Stats() Stats {
	return Stats{LocalHits: s.hits.Load(), SharedGets: s.misses.Load()}
}

// Close stops the local cache's cleanup goroutine. It does not close the
// shared store.
func (s *Store) Close() error { return s.local.Close() }

// Touch moves the record's expiry in the shared store and then in the
// local copy. Over a shared store without Touch it answers
// httpsession.ErrNotSupported.
func (s *Store) Touch(ctx context.Context, key string, expires time.Time) error {
	t, ok := s.shared.(httpsession.Toucher)
	if !ok {
		return s.lacks("Touch")
	}
	st := s.stripe(key)
	gen := st.generation()
	err := t.Touch(ctx, key, expires)
	st.settle(gen, func() {
		if err != nil {
			s.drop(key)
			return
		}
		// A copy that is not there has nothing to move.
		_ = s.local.Touch(background, key, expires)
	}, func() { s.drop(key) })
	return err
}

// List lists the shared store's records; it neither reads nor fills the
// local cache. Over a shared store that cannot list it answers
// httpsession.ErrNotSupported.
func (s *Store) List(ctx context.Context, fn func(key string, rec httpsession.Record) bool) error {
	l, ok := s.shared.(httpsession.Lister)
	if !ok {
		return s.lacks("List")
	}
	return l.List(ctx, fn)
}

// DeleteExpired deletes expired records from the shared store; local
// copies end at their Expires on their own. Over a shared store without
// DeleteExpired (one that expires records itself) it answers
// httpsession.ErrNotSupported.
func (s *Store) DeleteExpired(ctx context.Context, limit int) (int, error) {
	c, ok := s.shared.(httpsession.Cleaner)
	if !ok {
		return 0, s.lacks("DeleteExpired")
	}
	return c.DeleteExpired(ctx, limit)
}

// OwnerKeys asks the shared store's owner index. Over a shared store
// without one it answers httpsession.ErrNotSupported.
func (s *Store) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	o, ok := s.shared.(httpsession.OwnerIndex)
	if !ok {
		return nil, s.lacks("OwnerKeys")
	}
	return o.OwnerKeys(ctx, owner)
}

// lacks is the error of a method the shared store does not have.
func (s *Store) lacks(method string) error {
	return fmt.Errorf("tiered: the shared store (%T) has no %s: %w", s.shared, method, httpsession.ErrNotSupported)
}

func (s *Store) stripe(key string) *stripe {
	return &s.stripes[maphash.String(s.seed, key)%stripeCount]
}

func (st *stripe) generation() uint64 {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.gen
}

// settle runs current if the stripe's generation is still gen, and stale
// (when not nil) otherwise, under the stripe's lock; then it counts one
// more generation.
func (st *stripe) settle(gen uint64, current, stale func()) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if current != nil && st.gen == gen {
		current()
	} else if stale != nil {
		stale()
	}
	st.gen++
}

// A local copy's Data is a header, the shared version and the fetch time
// in Unix nanoseconds, before the record's data. memstore gives records
// versions of its own, so the shared one travels in the data.
const localHeaderLen = 16

// install makes rec, as the shared store held it at fetched, the local
// copy. The stripe's lock must be held. A record too large for the local
// cache, or already expired, leaves no copy.
func (s *Store) install(key string, rec httpsession.Record, fetched time.Time) {
	data := make([]byte, localHeaderLen, localHeaderLen+len(rec.Data))
	binary.BigEndian.PutUint64(data, rec.Version)
	binary.BigEndian.PutUint64(data[8:], uint64(fetched.UnixNano()))
	data = append(data, rec.Data...)
	s.drop(key)
	// Nobody else writes this key to the local cache while the stripe is
	// locked, so a create cannot conflict; ErrTooLarge leaves no copy.
	_, _ = s.local.Put(background, key, httpsession.Record{Data: data, Expires: rec.Expires, Owner: rec.Owner})
}

// drop removes the local copy. memstore's Delete fails only on an ended
// context, which background never is.
func (s *Store) drop(key string) { _ = s.local.Delete(background, key) }

// fresh returns the local copy of key if there is one younger than
// MaxStale. A copy from the future (the clock went back) is not fresh.
func (s *Store) fresh(key string) (httpsession.Record, bool) {
	lr, err := s.local.Get(background, key)
	if err != nil || len(lr.Data) < localHeaderLen {
		return httpsession.Record{}, false
	}
	fetched := time.Unix(0, int64(binary.BigEndian.Uint64(lr.Data[8:])))
	if age := s.now().Sub(fetched); age < 0 || age >= s.maxStale {
		return httpsession.Record{}, false
	}
	return httpsession.Record{
		Data:    lr.Data[localHeaderLen:],
		Expires: lr.Expires,
		Version: binary.BigEndian.Uint64(lr.Data),
		Owner:   lr.Owner,
	}, true
}
