// Package filestore is an httpsession.Store that keeps one file per session
// in a directory.
//
// # Layout
//
// The directory holds, and New creates it 0700 if it is missing:
//
//   - one file per record, named by its key: exactly 64 lowercase hex
//     characters (the Manager's SHA-256 of the token). Any other key is
//     rejected with ErrInvalidKey before a system call, so no name can
//     carry "/", ".." or a drive letter; files are opened relative to the
//     open directory with O_NOFOLLOW, so a symbolic link planted under a
//     record's name is never followed. Record files are mode 0600.
//   - .lock-00 to .lock-ff: 256 empty lock files, one per first byte of the
//     key, created on first use and never removed.
//   - .tmp-*: files being written. DeleteExpired removes any older than a
//     minute, the leftovers of a crash.
//
// New refuses a directory that is a symbolic link or that its group or
// others can access.
//
// A record file is a 40-byte header (magic "HSFS", format version, record
// version, expiry in Unix nanoseconds, owner and data lengths, CRC-32C
// checksums of the data and of the header and owner), then the owner, then
// the data. A file that does not parse or whose checksums fail reads as
// absent (ErrNotFound, with a message saying it is corrupt); Put with
// version 0 replaces it and DeleteExpired removes it. A file of a newer
// format version also reads as absent, but DeleteExpired leaves it alone.
//
// # Guarantees
//
// Writes are atomic and durable: the new content goes to a temporary file
// in the same directory, which is fsynced and renamed over the record, then
// the directory is fsynced. Readers take no lock and see either the old
// file or the new one, whole, never a truncated one.
//
// Put, Touch and Delete hold an exclusive flock on the key's lock file
// while they read the current version and replace the file, so the
// compare-and-set holds across goroutines and across processes that share
// the directory on one machine. The locks are sharded by the key's first
// byte: one lock file per key would have to be deleted with its record,
// and deleting a lock file races with a process that has just opened it;
// one lock for the whole directory would serialise every write and its
// fsyncs. Waiting for a lock honours the context.
//
// Versions of a new record start at a random value and count up, so a
// record that is deleted and created again under the same key does not
// reuse its predecessor's versions.
//
// # Limits
//
// flock is advisory: a program that writes the directory without this
// package is not held back. Do not use a network file system (NFS, SMB):
// flock and rename are not reliable there. Touch rewrites the whole file,
// since an in-place change could be read half-done. List, OwnerKeys and
// DeleteExpired read every file in the directory: O(n) in the number of
// sessions, which suits a file store; keep the sweeper's interval in
// proportion. The package builds on Linux, macOS, the BSDs and Solaris; on
// other systems New returns an error.
package filestore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/storekey"
)

// DefaultMaxRecordSize is the limit on a record's Data when
// Options.MaxRecordSize is zero: 16 MiB.
const DefaultMaxRecordSize = 16 << 20

// MaxOwnerSize is the longest Record.Owner that Put accepts, in bytes.
const MaxOwnerSize = 1024

const (
	tmpPrefix  = ".tmp-"
	lockPrefix = ".lock-"
	// staleTemp is the age past which DeleteExpired removes a temporary
	// file: a write takes milliseconds, so an older one was left by a
	// crash.
	staleTemp = time.Minute
	// headRead is how much of a file scans read to see its header.
	headRead = 4096
)

// ErrInvalidKey is returned for a key that is not 64 lowercase hex
// characters. Such a key never reaches the file system.
var ErrInvalidKey = errors.New("filestore: invalid key: want 64 lowercase hex characters")

var errClosed = errors.New("filestore: store is closed")

var (
	_ httpsession.Store      = (*Store)(nil)
	_ httpsession.Toucher    = (*Store)(nil)
	_ httpsession.Lister     = (*Store)(nil)
	_ httpsession.Cleaner    = (*Store)(nil)
	_ httpsession.OwnerIndex = (*Store)(nil)
)

// Options configures a Store. The zero value is ready to use.
type Options struct {
	// MaxRecordSize is the largest Record.Data that Put accepts, in bytes;
	// a larger one is ErrTooLarge. The default is DefaultMaxRecordSize.
	MaxRecordSize int
	// Now returns the current time, against which records expire. The
	// default is time.Now.
	Now func() time.Time
}

// Store keeps session records as files in one directory. It implements
// httpsession.Store, Toucher, Lister, Cleaner and OwnerIndex, and is safe
// for concurrent use by goroutines and by processes sharing the directory.
type Store struct {
	dir     *dir
	maxSize int
	now     func() time.Time
	// shards serialise this process's writers per lock file before they
	// take the flock, so that waiting goroutines do not each hold a thread
	// polling the lock.
	shards [256]chan struct{}
}

// New opens the store in dir, creating the directory with mode 0700 if it
// does not exist. It fails if dir is a symbolic link or if its group or
// others have any access to it. Call Close when done.
func New(dir string, opts Options) (*Store, error) {
	if opts.MaxRecordSize < 0 {
		return nil, errors.New("filestore: Options.MaxRecordSize must not be negative")
	}
	d, err := openDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Store{dir: d, maxSize: opts.MaxRecordSize, now: opts.Now}
	if s.maxSize == 0 {
		s.maxSize = DefaultMaxRecordSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	for i := range s.shards {
		s.shards[i] = make(chan struct{}, 1)
	}
	return s, nil
}

// Close releases the directory. Calls after Close fail.
func (s *Store) Close() error { return s.dir.close() }

// Get returns the live record under key. A missing, expired or corrupt
// record is ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (httpsession.Record, error) {
	if err := check(ctx, key); err != nil {
		return httpsession.Record{}, err
	}
	rec, err := s.load(key)
	if err != nil {
		return httpsession.Record{}, err
	}
	if !s.live(rec) {
		return httpsession.Record{}, httpsession.ErrNotFound
	}
	return rec, nil
}

// Put writes rec under key if the stored version equals rec.Version (0:
// no live record may exist) and returns the new version.
func (s *Store) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	if err := check(ctx, key); err != nil {
		return 0, err
	}
	if err := storekey.CheckSize("filestore", rec, s.maxSize, MaxOwnerSize); err != nil {
		return 0, err
	}
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return 0, err
	}
	defer unlock()
	var current uint64
	if old, err := s.load(key); err == nil && s.live(old) {
		current = old.Version
	} else if err != nil && !errors.Is(err, httpsession.ErrNotFound) {
		return 0, err
	}
	if current != rec.Version {
		return 0, httpsession.ErrConflict
	}
	version := nextVersion(current)
	if err := s.dir.write(key, encodeHeader(rec, version), rec.Data); err != nil {
		return 0, fmt.Errorf("filestore: put: %w", err)
	}
	return version, nil
}

// Delete removes the record under key. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	return s.removeSynced(key)
}

// Touch sets the expiry of the live record under key, keeping its data and
// version. A missing or expired record is ErrNotFound and nothing is
// created.
func (s *Store) Touch(ctx context.Context, key string, expires time.Time) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	rec, err := s.load(key)
	if err != nil {
		return err
	}
	if !s.live(rec) {
		return httpsession.ErrNotFound
	}
	rec.Expires = expires
	if err := s.dir.write(key, encodeHeader(rec, rec.Version), rec.Data); err != nil {
		return fmt.Errorf("filestore: touch: %w", err)
	}
	return nil
}

// List calls fn with each live record, in no particular order, until fn
// returns false. No lock is held while fn runs, so fn may call the store.
func (s *Store) List(ctx context.Context, fn func(key string, rec httpsession.Record) bool) error {
	return s.dir.scan(ctx, func(names []string) (bool, error) {
		for _, name := range names {
			if !validKey(name) {
				continue
			}
			rec, err := s.load(name)
			if errors.Is(err, httpsession.ErrNotFound) || err == nil && !s.live(rec) {
				continue
			}
			if err != nil {
				return false, err
			}
			if !fn(name, rec) {
				return false, nil
			}
		}
		return true, ctx.Err()
	})
}

// OwnerKeys returns the keys of the owner's live records. It reads the
// header of every file in the directory, and the owner's files whole.
func (s *Store) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	if owner == "" {
		return nil, nil
	}
	var keys []string
	err := s.dir.scan(ctx, func(names []string) (bool, error) {
		for _, name := range names {
			if !validKey(name) {
				continue
			}
			rec, err := s.loadHeader(name)
			if err != nil && !errors.Is(err, httpsession.ErrNotFound) {
				return false, err
			}
			if err == nil && rec.Owner == owner && s.live(rec) {
				// Check the data too, as Get would: only the owner's
				// few files are read whole.
				if _, err := s.load(name); err == nil {
					keys = append(keys, name)
				}
			}
		}
		return true, ctx.Err()
	})
	return keys, err
}

// DeleteExpired removes at most limit expired or corrupt records, or all of
// them if limit is 0 or less, and reports how many it removed. It reads
// only the headers of live records, so a file whose header is sound but
// whose data fails its checksum goes when the header says it expires. It
// also removes temporary files older than a minute, which do not count.
func (s *Store) DeleteExpired(ctx context.Context, limit int) (int, error) {
	removed := 0
	err := s.dir.scan(ctx, func(names []string) (bool, error) {
		for _, name := range names {
			if strings.HasPrefix(name, tmpPrefix) {
				if err := s.removeStaleTemp(name); err != nil {
					return false, err
				}
				continue
			}
			if !validKey(name) {
				continue
			}
			rec, err := s.loadHeader(name)
			switch {
			case err == nil && s.live(rec):
				continue
			case err == nil, errors.Is(err, errCorrupt):
				// expired or corrupt: remove
			case errors.Is(err, httpsession.ErrNotFound):
				continue // gone, a newer format, or not a regular file
			default:
				return false, err
			}
			ok, err := s.deleteIfDead(ctx, name)
			if err != nil {
				return false, err
			}
			if ok {
				removed++
				if removed == limit {
					return false, nil
				}
			}
		}
		return true, ctx.Err()
	})
	return removed, err
}

// deleteIfDead removes the record under key if, under its lock, it is still
// expired or corrupt: a writer may have replaced it since the scan.
func (s *Store) deleteIfDead(ctx context.Context, key string) (bool, error) {
	unlock, err := s.lock(ctx, key)
	if err != nil {
		return false, err
	}
	defer unlock()
	buf, _, err := s.dir.read(key, -1)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, errSymlink) || errors.Is(err, errNotRegular) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	rec, err := decode(buf)
	if errors.Is(err, errFutureFormat) || err == nil && s.live(rec) {
		return false, nil
	}
	return true, s.removeSynced(key)
}

func (s *Store) removeStaleTemp(name string) error {
	mtime, regular, err := s.dir.modTime(name)
	if errors.Is(err, os.ErrNotExist) || err == nil && (!regular || time.Since(mtime) < staleTemp) {
		return nil
	}
	if err != nil {
		return err
	}
	return s.dir.remove(name)
}

func (s *Store) removeSynced(key string) error {
	if err := s.dir.remove(key); err != nil {
		return fmt.Errorf("filestore: delete: %w", err)
	}
	// Sync so that a crash cannot bring a destroyed session back.
	return s.dir.sync()
}

// load reads and checks the whole record file under key. Anything that is
// not a record this package wrote reads as ErrNotFound, with the reason.
func (s *Store) load(key string) (httpsession.Record, error) {
	buf, _, err := s.dir.read(key, -1)
	if err != nil {
		return httpsession.Record{}, readError(err)
	}
	rec, err := decode(buf)
	if err != nil {
		return httpsession.Record{}, fmt.Errorf("%w: %w", err, httpsession.ErrNotFound)
	}
	return rec, nil
}

// loadHeader is load without the data, which it neither reads (unless the
// owner is long) nor checks.
func (s *Store) loadHeader(key string) (httpsession.Record, error) {
	buf, size, err := s.dir.read(key, headRead)
	if err != nil {
		return httpsession.Record{}, readError(err)
	}
	rec, _, err := decodeHeader(buf, size)
	if err == errCorrupt && int64(len(buf)) < size {
		return s.load(key) // owner longer than headRead
	}
	if err != nil {
		return httpsession.Record{}, fmt.Errorf("%w: %w", err, httpsession.ErrNotFound)
	}
	return rec, nil
}

func readError(err error) error {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %w", os.ErrNotExist, httpsession.ErrNotFound)
	case errors.Is(err, errSymlink), errors.Is(err, errNotRegular):
		return fmt.Errorf("%w: %w", err, httpsession.ErrNotFound)
	case errors.Is(err, errClosed):
		return err
	}
	return fmt.Errorf("filestore: read: %w", err)
}

func (s *Store) live(rec httpsession.Record) bool { return rec.Expires.After(s.now()) }

// lock takes the in-process and the cross-process lock of key's shard.
func (s *Store) lock(ctx context.Context, key string) (func(), error) {
	shard := s.shards[unhex(key[0])<<4|unhex(key[1])]
	select {
	case shard <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	unlock, err := s.dir.lock(ctx, lockPrefix+key[:2])
	if err != nil {
		<-shard
		return nil, fmt.Errorf("filestore: lock: %w", err)
	}
	return func() { unlock(); <-shard }, nil
}

// nextVersion returns the version that follows current; a new record gets
// a random one.
func nextVersion(current uint64) uint64 {
	v := current + 1
	if current == 0 {
		v = rand.Uint64()
	}
	if v == 0 {
		v = 1
	}
	return v
}

func check(ctx context.Context, key string) error {
	if !validKey(key) {
		return ErrInvalidKey
	}
	return ctx.Err()
}

// validKey reports whether key is 64 lowercase hex characters, the only
// names this package builds file names from.
var validKey = storekey.Valid

func unhex(c byte) int {
	if c <= '9' {
		return int(c - '0')
	}
	return int(c-'a') + 10
}
