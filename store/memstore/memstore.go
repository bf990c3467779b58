// Package memstore is an in-process httpsession store.
//
// Records live in a map in the program's memory, bounded by a number of
// entries and a number of bytes; over either bound the least recently used
// record goes. The store is fast and needs no server, but it serves one
// process only and is not durable: every session is lost when the program
// restarts. Use it for tests, development and single-instance programs
// where a restart may log users out.
package memstore

import (
	"bytes"
	"container/list"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/httpsession/httpsession"
)

// Options configure a Store. The zero value gives the defaults.
type Options struct {
	// MaxEntries bounds the number of records held. The default value is
	// 100,000.
	MaxEntries int
	// MaxBytes bounds the sum of the lengths of the keys, data and owners
	// held. A record that alone is over it is ErrTooLarge. The default
	// value is 256 MiB.
	MaxBytes int64
	// CleanupInterval is how often a background goroutine removes expired
	// records. A negative value turns that goroutine off. The default
	// value is 1 minute.
	CleanupInterval time.Duration
	// Now returns the current time; tests set it to move time without
	// sleeping. The default is time.Now.
	Now func() time.Time
}

// Defaults for zero Options fields.
const (
	defaultMaxEntries      = 100_000
	defaultMaxBytes        = 256 << 20
	defaultCleanupInterval = time.Minute
)

// Store is an in-process store. It implements httpsession.Store, Toucher,
// Lister, Cleaner and OwnerIndex, and is safe for concurrent use. Call
// Close to stop its cleanup goroutine.
type Store struct {
	maxEntries int
	maxBytes   int64
	now        func() time.Time

	mu      sync.Mutex
	entries map[string]*list.Element // values are *entry
	lru     *list.List               // front: most recently used
	owners  map[string]map[string]struct{}
	bytes   int64
	version uint64 // last version issued

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type entry struct {
	key string
	rec httpsession.Record
}

func (e *entry) size() int64 { return recordSize(e.key, e.rec) }

func recordSize(key string, rec httpsession.Record) int64 {
	return int64(len(key) + len(rec.Data) + len(rec.Owner))
}

var (
	_ httpsession.Store      = (*Store)(nil)
	_ httpsession.Toucher    = (*Store)(nil)
	_ httpsession.Lister     = (*Store)(nil)
	_ httpsession.Cleaner    = (*Store)(nil)
	_ httpsession.OwnerIndex = (*Store)(nil)
)

// New returns an empty store and starts its cleanup goroutine.
func New(opts Options) *Store {
	s := &Store{
		maxEntries: opts.MaxEntries,
		maxBytes:   opts.MaxBytes,
		now:        opts.Now,
		entries:    map[string]*list.Element{},
		lru:        list.New(),
		owners:     map[string]map[string]struct{}{},
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	if s.maxEntries <= 0 {
		s.maxEntries = defaultMaxEntries
	}
	if s.maxBytes <= 0 {
		s.maxBytes = defaultMaxBytes
	}
	if s.now == nil {
		s.now = time.Now
	}
	interval := opts.CleanupInterval
	if interval == 0 {
		interval = defaultCleanupInterval
	}
	if interval < 0 {
		close(s.done)
		return s
	}
	go s.janitor(interval)
	return s
}

func (s *Store) janitor(interval time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			s.mu.Lock()
			s.deleteExpired(0)
			s.mu.Unlock()
		}
	}
}

// Close stops the cleanup goroutine and waits for it to end. The store
// stays usable; expired records are then removed only when they are read
// or by DeleteExpired. Close may be called more than once and always
// returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// Get returns a copy of the live record under key and marks it as
// recently used.
func (s *Store) Get(ctx context.Context, key string) (httpsession.Record, error) {
	if err := ctx.Err(); err != nil {
		return httpsession.Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(key)
	if e == nil {
		return httpsession.Record{}, fmt.Errorf("memstore: get: %w", httpsession.ErrNotFound)
	}
	s.lru.MoveToFront(s.entries[key])
	rec := e.rec
	rec.Data = bytes.Clone(rec.Data)
	return rec, nil
}

// Put stores a copy of rec under key if rec.Version is the live record's
// version, or 0 and there is no live record. A record whose Expires is
// past is not kept. Putting may evict the least recently used records.
func (s *Store) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if size := recordSize(key, rec); size > s.maxBytes {
		return 0, fmt.Errorf("memstore: put: record of %d bytes, MaxBytes is %d: %w", size, s.maxBytes, httpsession.ErrTooLarge)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var current uint64
	if e := s.live(key); e != nil {
		current = e.rec.Version
	}
	if rec.Version != current {
		if current == 0 {
			return 0, fmt.Errorf("memstore: put: version %d, record is gone: %w", rec.Version, httpsession.ErrConflict)
		}
		return 0, fmt.Errorf("memstore: put: version %d, stored %d: %w", rec.Version, current, httpsession.ErrConflict)
	}
	s.version++
	rec.Version = s.version
	if !s.now().Before(rec.Expires) {
		s.remove(key)
		return rec.Version, nil
	}
	rec.Data = bytes.Clone(rec.Data)
	if el, ok := s.entries[key]; ok { // live, as s.live removed it otherwise
		e := el.Value.(*entry)
		s.bytes -= e.size()
		s.unindex(e)
		e.rec = rec
		s.lru.MoveToFront(el)
	} else {
		s.entries[key] = s.lru.PushFront(&entry{key: key, rec: rec})
	}
	s.bytes += recordSize(key, rec)
	s.index(key, rec.Owner)
	// The new record is at the front and fits alone, so it is never the
	// one evicted.
	for s.lru.Len() > s.maxEntries || s.bytes > s.maxBytes {
		s.remove(s.lru.Back().Value.(*entry).key)
	}
	return rec.Version, nil
}

// Delete removes the record under key.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(key)
	return nil
}

// Touch sets the Expires of the live record under key, leaving its Data,
// Owner and Version as they are, and marks it as recently used.
func (s *Store) Touch(ctx context.Context, key string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.live(key)
	if e == nil {
		return fmt.Errorf("memstore: touch: %w", httpsession.ErrNotFound)
	}
	if !s.now().Before(expires) {
		s.remove(key)
		return nil
	}
	e.rec.Expires = expires
	s.lru.MoveToFront(s.entries[key])
	return nil
}

// List calls fn with a copy of each live record until fn returns false.
// It holds no lock while fn runs, so fn may use the store. Records put
// while List runs may or may not be seen; records deleted before they are
// reached are not. List does not change which records count as recently
// used.
func (s *Store) List(ctx context.Context, fn func(key string, rec httpsession.Record) bool) error {
	s.mu.Lock()
	keys := make([]string, 0, len(s.entries))
	for k := range s.entries {
		keys = append(keys, k)
	}
	s.mu.Unlock()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		e := s.live(k)
		var rec httpsession.Record
		if e != nil {
			rec = e.rec
			rec.Data = bytes.Clone(rec.Data)
		}
		s.mu.Unlock()
		if e != nil && !fn(k, rec) {
			return nil
		}
	}
	return nil
}

// DeleteExpired removes up to limit expired records, or all of them when
// limit is 0 or less, and reports how many it removed.
func (s *Store) DeleteExpired(ctx context.Context, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteExpired(limit), nil
}

// OwnerKeys returns the keys of owner's live records, sorted.
func (s *Store) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for k := range s.owners[owner] {
		if s.live(k) != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// live returns the live entry under key, or nil. An expired entry it finds
// is removed. s.mu must be held.
func (s *Store) live(key string) *entry {
	el, ok := s.entries[key]
	if !ok {
		return nil
	}
	e := el.Value.(*entry)
	if !s.now().Before(e.rec.Expires) {
		s.remove(key)
		return nil
	}
	return e
}

// remove drops the entry under key, if any, from every index. s.mu must
// be held.
func (s *Store) remove(key string) {
	el, ok := s.entries[key]
	if !ok {
		return
	}
	e := el.Value.(*entry)
	s.lru.Remove(el)
	delete(s.entries, key)
	s.bytes -= e.size()
	s.unindex(e)
}

// index adds key to owner's keys. s.mu must be held.
func (s *Store) index(key, owner string) {
	if owner == "" {
		return
	}
	keys := s.owners[owner]
	if keys == nil {
		keys = map[string]struct{}{}
		s.owners[owner] = keys
	}
	keys[key] = struct{}{}
}

// unindex drops e from the owner index. s.mu must be held.
func (s *Store) unindex(e *entry) {
	owner := e.rec.Owner
	if owner == "" {
		return
	}
	delete(s.owners[owner], e.key)
	if len(s.owners[owner]) == 0 {
		delete(s.owners, owner)
	}
}

// deleteExpired removes up to limit expired entries (all when limit <= 0)
// and returns how many. s.mu must be held.
func (s *Store) deleteExpired(limit int) int {
	now := s.now()
	n := 0
	for k, el := range s.entries {
		if limit > 0 && n >= limit {
			break
		}
		if !now.Before(el.Value.(*entry).rec.Expires) {
			s.remove(k)
			n++
		}
	}
	return n
}
