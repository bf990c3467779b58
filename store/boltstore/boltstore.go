// Package boltstore is an httpsession.Store on bbolt (go.etcd.io/bbolt), an
// embedded key-value database in one file.
//
// # Layout
//
// Everything lives under one top-level bucket (Options.Bucket, by default
// "httpsession"), so the store can share a database with the program's own
// buckets. It holds:
//
//   - records: key -> format byte, version, expiry (Unix nanoseconds),
//     owner length and owner, then the data.
//   - expiry: 8-byte big-endian expiry + key -> nothing. Sorted by expiry,
//     so DeleteExpired reads only the expired entries, in bounded batches.
//   - owners: 2-byte owner length + owner + key -> nothing, for OwnerKeys.
//     The length prefix keeps one owner's entries apart from those of an
//     owner whose name it is a prefix of, whatever bytes owners contain.
//
// Every Put, Touch and Delete keeps the three in step in one transaction.
//
// # Guarantees
//
// Put, Touch and Delete run in a read-write transaction (db.Update), which
// holds the compare-and-set: bbolt runs one at a time. Writers that arrive
// while a commit runs share the next transaction (group commit, with no
// added delay for a lone writer), each still deciding its compare-and-set
// on what the writers before it left. Each commit fsyncs the file before
// any of its writers returns, so a Put that returned survives a crash;
// Open never sets NoSync. (New leaves a caller's database as it is.) Get,
// List and OwnerKeys run in read-only transactions, concurrently with each
// other and with a writer, and copy every byte out before the transaction
// ends: bbolt's slices point into its memory map and are valid only inside
// the transaction. List calls its function outside any transaction, so the
// function may write to the store.
//
// Versions come from the records bucket's sequence, which never goes back,
// so a version is never reused, even after a record is deleted.
//
// # Limits
//
// One process per file: bbolt takes an exclusive lock on it, and Open gives
// up after Options.Timeout (1 second by default) with an error saying the
// database is locked, instead of blocking. Several Managers of one process
// share a Store, or a *bolt.DB through New. Each commit costs two fsyncs.
// The file never shrinks: pages freed by deleted
// sessions are reused, not returned to the file system; Compact (or
// sessionctl compact), with the program stopped, gives the space back. The store runs no goroutine: the
// Manager's janitor calls DeleteExpired.
package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/storekey"
)

// Defaults for zero Options fields.
const (
	// DefaultBucket is the top-level bucket the store uses.
	DefaultBucket = "httpsession"
	// DefaultTimeout is how long Open waits for the file lock.
	DefaultTimeout = time.Second
	// DefaultMaxRecordSize is the limit on a record's Data: 16 MiB.
	DefaultMaxRecordSize = 16 << 20
)

// Limits on what a record's key and owner may be, in bytes.
const (
	MaxKeySize   = 512
	MaxOwnerSize = 1024
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// Bucket is the name of the top-level bucket that holds the store's
	// buckets. The default value is DefaultBucket.
	Bucket string
	// Timeout is how long Open waits for the lock on the file, which
	// another process (or another Open in this one) may hold. It must not
	// be negative. The default value is DefaultTimeout.
	Timeout time.Duration
	// MaxRecordSize is the largest Record.Data that Put accepts, in bytes;
	// a larger one is ErrTooLarge. The default value is
	// DefaultMaxRecordSize.
	MaxRecordSize int
	// Now returns the current time, against which records expire. The
	// default is time.Now.
	Now func() time.Time
	// SyncFreelist makes Open write bbolt's freelist at every commit, as
	// bbolt does by default. Open is then fast whatever the file's size,
	// but every commit writes the whole freelist, which after a flood or
	// a mass expiry holds most of the file's pages: at a million
	// sessions that was 1.4 MB written per commit. The default, false,
	// rebuilds the freelist at Open by scanning the file instead (as etcd
	// does): a slower start for a large file, commits whose cost does
	// not grow with it. See the README for the figures.
	SyncFreelist bool
}

// Store keeps session records in a bbolt database. It implements
// httpsession.Store, Toucher, Lister, Cleaner and OwnerIndex, and is safe
// for concurrent use.
type Store struct {
	db      *bolt.DB
	owned   bool // Close closes db
	bucket  []byte
	maxSize int
	now     func() time.Time
	commit  committer
}

var (
	_ httpsession.Store      = (*Store)(nil)
	_ httpsession.Toucher    = (*Store)(nil)
	_ httpsession.Lister     = (*Store)(nil)
	_ httpsession.Cleaner    = (*Store)(nil)
	_ httpsession.OwnerIndex = (*Store)(nil)
)

// ErrInvalidKey is returned for an empty key or one longer than
// MaxKeySize.
var ErrInvalidKey = errors.New("boltstore: invalid key: want 1 to 512 bytes")

// Names of the buckets inside the top-level one, and of its format key.
var (
	recordsBucket = []byte("records")
	expiryBucket  = []byte("expiry")
	ownersBucket  = []byte("owners")
	formatKey     = []byte("format")
)

const formatVersion = 1

// Open opens the bbolt database at path, creating the file with mode 0600 if
// it is missing, and returns a store on it. If another process (or another
// Open in this one) holds the file, Open fails after opts.Timeout. Close
// the store to close the database.
func Open(path string, opts Options) (*Store, error) {
	if opts.Timeout < 0 {
		return nil, errors.New("boltstore: Options.Timeout must not be negative")
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	db, err := bolt.Open(path, 0o600, boltOptions(timeout, opts.SyncFreelist))
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: the database is locked by another process or Store (waited %v): %w", path, timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s, err := New(db, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// boltOptions are the options Open and Compact open files with.
func boltOptions(timeout time.Duration, syncFreelist bool) *bolt.Options {
	return &bolt.Options{
		Timeout: timeout,
		// Unless asked, the freelist is not written at every commit but
		// rebuilt at open by a scan of the file (Options.SyncFreelist).
		// A file whose freelist was not synced and that is opened with
		// syncing writes it once, at open. The hashmap freelist finds
		// runs of free pages without scanning them.
		NoFreelistSync: !syncFreelist,
		FreelistType:   bolt.FreelistMapType,
	}
}

// New returns a store on a database the caller opened, creating the store's
// buckets if they are missing. Close does not close db. Options.Timeout is
// not used.
func New(db *bolt.DB, opts Options) (*Store, error) {
	if opts.MaxRecordSize < 0 {
		return nil, errors.New("boltstore: Options.MaxRecordSize must not be negative")
	}
	s := &Store{db: db, bucket: []byte(opts.Bucket), maxSize: opts.MaxRecordSize, now: opts.Now}
	if len(s.bucket) == 0 {
		s.bucket = []byte(DefaultBucket)
	}
	if s.maxSize == 0 {
		s.maxSize = DefaultMaxRecordSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	err := db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucketIfNotExists(s.bucket)
		if err != nil {
			return err
		}
		switch f := top.Get(formatKey); {
		case f == nil:
			if err := top.Put(formatKey, []byte{formatVersion}); err != nil {
				return err
			}
		case len(f) != 1 || f[0] != formatVersion:
			return fmt.Errorf("bucket %q holds format %x, this build reads format %d", s.bucket, f, formatVersion)
		}
		for _, name := range [][]byte{recordsBucket, expiryBucket, ownersBucket} {
			if _, err := top.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	return s, nil
}

// DB returns the database the store is on.
func (s *Store) DB() *bolt.DB { return s.db }

// Close closes the database if Open opened it; for a store made by New it
// does nothing.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.db.Close()
}

// buckets are the store's three buckets in one transaction.
type buckets struct {
	records, expiry, owners *bolt.Bucket
}

func (s *Store) buckets(tx *bolt.Tx) (buckets, error) {
	top := tx.Bucket(s.bucket)
	if top == nil {
		return buckets{}, fmt.Errorf("boltstore: bucket %q is gone", s.bucket)
	}
	b := buckets{top.Bucket(recordsBucket), top.Bucket(expiryBucket), top.Bucket(ownersBucket)}
	if b.expiry != nil {
		b.expiry.FillPercent = expiryFill
	}
	return b, nil
}

// expiryFill is how full bbolt packs the expiry index's pages when it
// splits them (its default is half). The index's keys start with the
// expiry, and a new session's expiry is now plus the lifetime: later than
// every entry before it, so almost every insert lands on the last page.
// At half, each page left behind by a split stayed half empty for good;
// at 0.9 it is nine tenths full, and the index takes about half the pages
// (and writes) it did. Bulk deletes by the sweep, from the other end,
// still merge pages as before.
const expiryFill = 0.9

func (s *Store) view(fn func(b buckets) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// viewRecords runs fn in a read-only transaction on the records bucket
// alone. Get and List need no index, and opening a bucket costs a lookup
// in its parent and allocations (224 bytes per Get for the two indexes).
func (s *Store) viewRecords(fn func(records *bolt.Bucket) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		top := tx.Bucket(s.bucket)
		if top == nil {
			return fmt.Errorf("boltstore: bucket %q is gone", s.bucket)
		}
		return fn(top.Bucket(recordsBucket))
	})
}

// updateAlone runs fn in a read-write transaction of its own.
func (s *Store) updateAlone(fn func(b buckets) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return fn(b)
	})
}

// Get returns the live record under key, or ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (httpsession.Record, error) {
	if err := check(ctx, key); err != nil {
		return httpsession.Record{}, err
	}
	var rec httpsession.Record
	err := s.viewRecords(func(records *bolt.Bucket) error {
		m, data, ok := decode(records.Get([]byte(key)))
		if !ok || !s.live(m.expires) {
			return httpsession.ErrNotFound
		}
		rec = m.record(bytes.Clone(data))
		return nil
	})
	return rec, err
}

// Put writes rec under key if the stored version equals rec.Version (0:
// no live record may exist) and returns the new version.
func (s *Store) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	if err := check(ctx, key); err != nil {
		return 0, err
	}
	if err := storekey.CheckSize("boltstore", rec, s.maxSize, MaxOwnerSize); err != nil {
		return 0, err
	}
	var version uint64
	err := s.update(func(b buckets) error {
		k := []byte(key)
		old, _, exists := decode(b.records.Get(k))
		var current uint64
		if exists && s.live(old.expires) {
			current = old.version
		}
		if current != rec.Version {
			return httpsession.ErrConflict
		}
		var err error
		if version, err = b.records.NextSequence(); err != nil {
			return err
		}
		m := meta{version: version, owner: rec.Owner, expires: unixNano(rec.Expires)}
		if !exists {
			return b.write(k, m, rec.Data)
		}
		return b.rewrite(k, old, m, rec.Data)
	})
	if err != nil {
		return 0, wrap("put", err)
	}
	return version, nil
}

// Delete removes the record under key. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	return wrap("delete", s.update(func(b buckets) error { return b.remove([]byte(key)) }))
}

// Touch sets the expiry of the live record under key, keeping its data and
// version. A missing or expired record is ErrNotFound and nothing is
// created.
func (s *Store) Touch(ctx context.Context, key string, expires time.Time) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	return wrap("touch", s.update(func(b buckets) error {
		k := []byte(key)
		m, data, ok := decode(b.records.Get(k))
		if !ok || !s.live(m.expires) {
			return httpsession.ErrNotFound
		}
		if err := b.expiry.Delete(expiryKey(m.expires, k)); err != nil {
			return err
		}
		m.expires = unixNano(expires)
		if err := b.records.Put(k, encode(m, data)); err != nil { // encode copies data
			return err
		}
		return b.expiry.Put(expiryKey(m.expires, k), nil)
	}))
}

// listBatch is how many records List copies out per read transaction.
const listBatch = 256

// List calls fn with each live record, in key order, until fn returns
// false. It reads the records in batches, each in its own read
// transaction, and calls fn outside them, so fn may call the store; a
// record written meanwhile may or may not be seen.
func (s *Store) List(ctx context.Context, fn func(key string, rec httpsession.Record) bool) error {
	type item struct {
		key string
		rec httpsession.Record
	}
	var after []byte // the last key seen
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var batch []item
		err := s.viewRecords(func(records *bolt.Bucket) error {
			c := records.Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for ; k != nil && len(batch) < listBatch; k, v = c.Next() {
				if m, data, ok := decode(v); ok && s.live(m.expires) {
					batch = append(batch, item{string(k), m.record(bytes.Clone(data))})
				}
				after = append(after[:0], k...)
			}
			if k == nil {
				after = nil // done
			}
			return nil
		})
		if err != nil {
			return wrap("list", err)
		}
		for _, it := range batch {
			if !fn(it.key, it.rec) {
				return nil
			}
		}
		if after == nil {
			return nil
		}
	}
}

// OwnerKeys returns the keys of the owner's live records.
func (s *Store) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	if err := ctx.Err(); err != nil || owner == "" {
		return nil, err
	}
	var keys []string
	err := s.view(func(b buckets) error {
		prefix := ownerPrefix(owner)
		c := b.owners.Cursor()
		for k, _ := c.Seek(prefix); bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			key := k[len(prefix):]
			if m, _, ok := decode(b.records.Get(key)); ok && s.live(m.expires) {
				keys = append(keys, string(key))
			}
		}
		return nil
	})
	return keys, wrap("owner keys", err)
}

// sweepBatch bounds the records one DeleteExpired transaction removes, so
// that a large sweep does not hold the writer lock for long.
const sweepBatch = 1000

// DeleteExpired removes at most limit expired records, or all of them if
// limit is 0 or less, and reports how many it removed. It walks the expiry
// index from the oldest entry and stops at the first live one, in
// transactions of at most 1,000 records.
func (s *Store) DeleteExpired(ctx context.Context, limit int) (int, error) {
	removed := 0
	for limit <= 0 || removed < limit {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		quota := sweepBatch
		if limit > 0 {
			quota = min(quota, limit-removed)
		}
		n, more := 0, false
		err := s.updateAlone(func(b buckets) error {
			now := sortable(unixNano(s.now()))
			var stale [][]byte
			c := b.expiry.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if binary.BigEndian.Uint64(k) > now {
					break // live from here on
				}
				if len(stale) == quota {
					more = true
					break
				}
				stale = append(stale, bytes.Clone(k))
			}
			for _, k := range stale {
				m, _, ok := decode(b.records.Get(k[8:]))
				if ok && sortable(m.expires) == binary.BigEndian.Uint64(k) {
					if err := b.remove(k[8:]); err != nil {
						return err
					}
					n++
					continue
				}
				// An index entry without its record: never written so,
				// but drop it rather than meet it on every sweep.
				if err := b.expiry.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return removed, wrap("delete expired", err)
		}
		removed += n
		if !more {
			break
		}
	}
	return removed, nil
}

// write puts the record and its index entries.
func (b buckets) write(key []byte, m meta, data []byte) error {
	if err := b.records.Put(key, encode(m, data)); err != nil {
		return err
	}
	if err := b.expiry.Put(expiryKey(m.expires, key), nil); err != nil {
		return err
	}
	if m.owner != "" {
		return b.owners.Put(ownerKey(m.owner, key), nil)
	}
	return nil
}

// rewrite replaces the record old stored under key, changing only the
// index entries that differ: an update that keeps its expiry and owner,
// as most do, dirties the record's pages alone.
func (b buckets) rewrite(key []byte, old, m meta, data []byte) error {
	if err := b.records.Put(key, encode(m, data)); err != nil {
		return err
	}
	if old.expires != m.expires {
		if err := b.expiry.Delete(expiryKey(old.expires, key)); err != nil {
			return err
		}
		if err := b.expiry.Put(expiryKey(m.expires, key), nil); err != nil {
			return err
		}
	}
	if old.owner != m.owner {
		if old.owner != "" {
			if err := b.owners.Delete(ownerKey(old.owner, key)); err != nil {
				return err
			}
		}
		if m.owner != "" {
			return b.owners.Put(ownerKey(m.owner, key), nil)
		}
	}
	return nil
}

// unindex deletes the index entries of the record m stored under key.
func (b buckets) unindex(key []byte, m meta) error {
	if err := b.expiry.Delete(expiryKey(m.expires, key)); err != nil {
		return err
	}
	if m.owner != "" {
		return b.owners.Delete(ownerKey(m.owner, key))
	}
	return nil
}

// remove deletes the record under key and its index entries.
func (b buckets) remove(key []byte) error {
	v := b.records.Get(key)
	if v == nil {
		return nil
	}
	if m, _, ok := decode(v); ok {
		if err := b.unindex(key, m); err != nil {
			return err
		}
	}
	return b.records.Delete(key)
}

func (s *Store) live(expires int64) bool { return expires > unixNano(s.now()) }

func check(ctx context.Context, key string) error {
	if len(key) == 0 || len(key) > MaxKeySize {
		return ErrInvalidKey
	}
	return ctx.Err()
}

// wrap names the package and operation in err, keeping the sentinel
// errors as they are.
func wrap(op string, err error) error {
	if err == nil || errors.Is(err, httpsession.ErrNotFound) || errors.Is(err, httpsession.ErrConflict) {
		return err
	}
	return fmt.Errorf("boltstore: %s: %w", op, err)
}

// meta is a record without its data, as stored.
type meta struct {
	version uint64
	owner   string
	expires int64 // Unix nanoseconds
}

func (m meta) record(data []byte) httpsession.Record {
	return httpsession.Record{Data: data, Version: m.version, Owner: m.owner, Expires: time.Unix(0, m.expires)}
}

// The record value: format byte, version (8 bytes), expires (8), owner
// length (2), owner, data. Big-endian.
const valueHeader = 1 + 8 + 8 + 2

// encode returns a new value; bbolt keeps it until the commit.
func encode(m meta, data []byte) []byte {
	v := make([]byte, valueHeader, valueHeader+len(m.owner)+len(data))
	v[0] = formatVersion
	binary.BigEndian.PutUint64(v[1:], m.version)
	binary.BigEndian.PutUint64(v[9:], uint64(m.expires))
	binary.BigEndian.PutUint16(v[17:], uint16(len(m.owner)))
	v = append(v, m.owner...)
	return append(v, data...)
}

// decode parses a stored value. The data aliases v. ok is false for a
// missing or malformed value, which counts as no record.
func decode(v []byte) (m meta, data []byte, ok bool) {
	if len(v) < valueHeader || v[0] != formatVersion {
		return meta{}, nil, false
	}
	n := int(binary.BigEndian.Uint16(v[17:]))
	if len(v) < valueHeader+n {
		return meta{}, nil, false
	}
	m = meta{
		version: binary.BigEndian.Uint64(v[1:]),
		expires: int64(binary.BigEndian.Uint64(v[9:])),
		owner:   string(v[valueHeader : valueHeader+n]),
	}
	return m, v[valueHeader+n:], true
}

// sortable maps Unix nanoseconds to a uint64 whose big-endian bytes sort
// in time order, negative times included.
func sortable(nanos int64) uint64 { return uint64(nanos) ^ 1<<63 }

func expiryKey(expires int64, key []byte) []byte {
	k := make([]byte, 8, 8+len(key))
	binary.BigEndian.PutUint64(k, sortable(expires))
	return append(k, key...)
}

func ownerPrefix(owner string) []byte { return ownerKey(owner, nil) }

func ownerKey(owner string, key []byte) []byte {
	k := make([]byte, 2, 2+len(owner)+len(key))
	binary.BigEndian.PutUint16(k, uint16(len(owner)))
	k = append(k, owner...)
	return append(k, key...)
}

// unixNano is t.UnixNano clamped to the int64 range, so that the zero time
// reads as long expired and a far-future time as never expiring.
func unixNano(t time.Time) int64 {
	switch {
	case t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}
