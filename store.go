package httpsession

import (
	"context"
	"errors"
	"time"
)

// Errors returned by stores and by the Manager. They are wrapped with %w, so
// test for them with errors.Is.
var (
	// ErrNotFound means the store holds no live record under the key.
	ErrNotFound = errors.New("httpsession: record not found")
	// ErrConflict means a Put lost a compare-and-set: the stored version is
	// not the one the caller read, or the record is gone.
	ErrConflict = errors.New("httpsession: version conflict")
	// ErrTooLarge means a record is over the store's or the configured size
	// limit. Nothing was written.
	ErrTooLarge = errors.New("httpsession: record too large")
	// ErrNotSupported means the store lacks an optional capability. A store
	// that wraps others (a cache, replicas) implements every optional
	// interface and answers ErrNotSupported where the store behind lacks
	// it; the Manager then does what it does for a store without that
	// interface.
	ErrNotSupported = errors.New("httpsession: not supported by this store")
	// ErrEncoding means the codec could not encode the session, for
	// example a value of a type gob does not know (see gob.Register).
	// Nothing was written; it is a bug of the application, not a store
	// failure, and the default ErrorHandler answers 500.
	ErrEncoding = errors.New("httpsession: cannot encode the session")
	// ErrUnavailable means the store could not be reached or did not answer
	// in time: connection refused, a timeout, a cluster without a master for
	// the key. The request may succeed if retried later; the default
	// ErrorHandler answers 503 with Retry-After. Stores wrap it with %w
	// beside the driver's own error, so both stay visible to errors.Is.
	ErrUnavailable = errors.New("httpsession: store unavailable")
)

// Record is what a Store keeps under a key: encoded session data and the
// metadata the store needs to expire, version and index it.
type Record struct {
	// Data is the codec's output. Stores treat it as opaque bytes.
	Data []byte
	// Expires is when the record stops being live: it is live while the
	// current time is before Expires. An expired record counts as absent
	// for every method: Get reports ErrNotFound, a Put with version 0
	// creates it afresh and a Put with another version is a conflict.
	Expires time.Time
	// Version is the record's compare-and-set version. On Get it is the
	// stored version; on Put it is the version the caller expects to
	// replace, 0 meaning the record must not exist yet.
	Version uint64
	// Owner is an optional principal (a user id). Stores that implement
	// OwnerIndex index records by it.
	Owner string
}

// Store keeps session records. Keys are derived from tokens by the Manager
// (lowercase hex of a SHA-256), never raw tokens. Implementations must be
// safe for concurrent use.
type Store interface {
	// Get returns the live record under key, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, key string) (Record, error)
	// Put writes rec under key if the stored version equals rec.Version
	// (0: no live record may exist) and returns the new version, which is
	// never 0 and never one the record had before. Otherwise it returns an
	// error wrapping ErrConflict. A Put with a non-zero version on a record
	// that is gone is a conflict, never an insert. A Put whose Expires has
	// passed succeeds but leaves no live record. Put does not keep rec.Data,
	// and Get returns Data the caller owns.
	Put(ctx context.Context, key string, rec Record) (uint64, error)
	// Delete removes the record under key. Deleting a missing key is not
	// an error.
	Delete(ctx context.Context, key string) error
}

// The optional interfaces below are found with a type assertion. A method
// of one may still answer an error wrapping ErrNotSupported (a wrapper over
// a store without it), which callers treat as if the interface were absent.

// Toucher is implemented by stores that can move a record's expiry without
// rewriting its data. Touch changes only Expires, earlier or later: Data,
// Owner and Version stay, so a writer that read the record before the
// Touch still wins its compare-and-set. Touch on a missing or expired
// record returns ErrNotFound and creates nothing.
type Toucher interface {
	Touch(ctx context.Context, key string, expires time.Time) error
}

// Lister is implemented by stores that can enumerate their live records.
// List calls fn for each one until fn returns false. It does not change the
// records' expiry. fn may call the store's methods, Delete included: List
// holds no lock across fn, and deleting the visited key skips no other.
type Lister interface {
	List(ctx context.Context, fn func(key string, rec Record) bool) error
}

// Cleaner is implemented by stores without native expiry. DeleteExpired
// removes at most limit expired records (every one when limit is 0 or
// less) and reports how many it removed.
type Cleaner interface {
	DeleteExpired(ctx context.Context, limit int) (int, error)
}

// OwnerIndex is implemented by stores that index records by Record.Owner.
// OwnerKeys returns the keys of the owner's live records, in no particular
// order; none, and no error, for an owner without any. A record with an
// empty Owner is not indexed.
type OwnerIndex interface {
	OwnerKeys(ctx context.Context, owner string) ([]string, error)
}

// Pinger is implemented by stores that talk to a server. Ping reports
// whether the server answers.
type Pinger interface {
	Ping(ctx context.Context) error
}
