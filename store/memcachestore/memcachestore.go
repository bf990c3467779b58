// Package memcachestore is an httpsession store on memcached, through
// github.com/bradfitz/gomemcache, on one server or spread over many.
//
// # Keys
//
// A session lives in the item Prefix + key, where key is the Manager's 64
// lowercase hex characters; any other key is refused with ErrInvalidKey
// before it reaches memcached, so no key can carry a space, a control
// character or a second command. An owner's index lives in Prefix +
// "owner:" + the SHA-256 of the owner in hex, so any owner string makes a
// legal key. The prefix keeps session items apart from an application's
// own cache keys on a shared server. With several servers, gomemcache's
// ServerList picks each item's server by a hash of its key.
//
// # Values
//
// memcached's CAS ids are opaque and only good with the item a gets
// returned, so the record's version is kept inside the value, in a header
// before the data: a format byte 'S', the version (uint64), Expires in Unix
// milliseconds (int64, rounded up) and the owner (uvarint length, bytes).
// Put with version 0 is an add; with another version it reads the item
// (gets), compares the version in it and writes with cas, so a record that
// is gone is never written again. The version of a new record starts at a
// random value and counts up, so a record deleted and created again under
// the same key does not reuse its predecessor's versions.
//
// # Round trips of an update
//
// A Manager that saves a changed session calls Get and then Put of the
// version read. So that this costs a get and a cas, the floor of two round
// trips, rather than a get, a gets and a cas, Get keeps the item's CAS id
// and the header it read in a small bounded cache (Options.CASCacheSize).
// A Put of that version, within two seconds of the Get, takes the CAS id
// out of the cache and sends cas with it at once: memcached stores it only
// if the item is still the one Get read, so the version in it is the one
// Put expects. If memcached refuses it (another writer, or a Touch, which
// changes the CAS id but not the version) or the item is gone, Put falls
// back on gets, compare and cas, which decide; a conflict is reported only
// from there. A CAS id serves one cas at most: Put takes it out, and
// Touch, Delete and a create drop it, since memcached's cas does not
// return the new id. The cache is per Store, so several instances of an
// application on one memcached stay correct, and only cost the fallback
// when they interleave. memcached hands out CAS ids from 1 again after a
// restart, so the store forgets them all when it sees a broken connection
// and never uses one older than two seconds; the remaining risk is a
// record of the same key created again, after a restart, within those two
// seconds, that gets the very CAS id of the old one, on a connection
// dialed after the restart: the Manager never creates a record under a
// key it used before.
//
// memcached expires items with a granularity of one second, and reads an
// expiration over 30 days as a Unix time rather than seconds from now; the
// store sends each accordingly, rounded so that an item never goes before
// its Expires, and Get checks the Expires in the value, so a record ends
// within a millisecond of it even though the item may stay up to two
// seconds longer. Touch rewrites the header with cas, since memcached's
// touch cannot change the Expires inside the value.
//
// # Owner index
//
// memcached cannot list its keys, so the store keeps one index item per
// owner holding the keys of the owner's sessions, updated with gets and cas
// (add when there is none), retried on contention with a little jitter. Put
// and Touch write the index before the session: once they return, an owned
// session is in its owner's index, and a write that fails after the index
// leaves an entry that leads nowhere, which OwnerKeys skips and later
// drops. The one exception is an index item on a server that does not
// answer: the session is written all the same, so that one dead server
// does not also fail the sessions of every owner whose index it holds;
// the failure is counted in Stats and logged, and the session's next Put
// or Touch writes the index again. The index item's expiry covers the latest session it holds and an
// hour more. OwnerKeys reads the index, reads every session it names (one
// get per server), returns those that are live and still of that owner,
// and drops the entries that are not, best effort. An owner change moves
// the key from one index to the other; Delete takes the key out. A session
// that is written while OwnerKeys runs may be missed by that call. When a
// session the index names is on a server that does not answer, OwnerKeys
// fails with httpsession.ErrUnavailable rather than leave it out, so that
// "sign out everywhere" never reports success while it may have missed
// one.
//
// # A pool with a server down
//
// gomemcache's ServerList gives each key one server and never moves it.
// While a server is down, the sessions whose keys it holds fail with an
// error wrapping httpsession.ErrUnavailable (the Manager's default
// ErrorHandler answers 503); the others work as before. When it comes
// back the store uses it again at once; but memcached keeps nothing, so a
// server that restarted has lost its sessions (their users start afresh)
// and its owner indexes. Where losing sessions with a server is not
// acceptable, keep them on two pools with store/replicated. NewPool and
// New start when one server answers, and log those that do not.
//
// # Guarantees and limits
//
//   - memcached keeps nothing on disk: a restart loses every session, and
//     under memory pressure its LRU evicts items, live sessions and owner
//     indexes included. A lost session reads as ErrNotFound and its user
//     starts afresh; a lost index makes OwnerKeys miss that owner's
//     sessions until each is next written or touched. Give memcached
//     enough memory that it does not evict (the "evictions" counter of
//     stats), or use a persistent store where "sign out everywhere" must
//     never miss.
//   - An item holds at most the servers' item size (memcached -I, 1 MiB by
//     default) including key and overhead; Options.MaxItemSize must match
//     it. A larger record is ErrTooLarge, and nothing is written.
//   - There is no iteration: memcached cannot enumerate keys, so the store
//     does not implement httpsession.Lister, and tools that list sessions
//     do not work on it. OwnerIndex does, so a Manager can still find and
//     end all sessions of a user ("sign out everywhere").
//   - There is no Cleaner: memcached expires items itself.
//   - gomemcache's calls take no context: each round trip is bounded by the
//     client's Timeout (500 ms by default), and the context is checked
//     before each one. A refused or broken connection, a timeout and a
//     client without servers wrap httpsession.ErrUnavailable beside
//     gomemcache's own error.
package memcachestore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/storekey"
)

// Defaults and limits of Options.
const (
	// DefaultPrefix is the default Options.Prefix.
	DefaultPrefix = "httpsession:"
	// DefaultMaxItemSize is the default Options.MaxItemSize: memcached's
	// default item size limit.
	DefaultMaxItemSize = 1 << 20
	// MaxPrefixLen is the longest Options.Prefix: memcached keys have at
	// most 250 bytes, and an owner index key adds 70.
	MaxPrefixLen = 250 - len(ownerInfix) - 64
	// minItemSize is memcached's smallest -I.
	minItemSize = 1024
)

const (
	ownerInfix = "owner:"
	// defaultMaxIdleConns is the client's pool per server for NewServers:
	// gomemcache's default of 2 makes a busy server dial for most calls.
	defaultMaxIdleConns = 64
	// writeAttempts bounds the loops of Put with version 0 and of Touch,
	// which retry when the item changes under them.
	writeAttempts = 8
)

// ErrInvalidKey is returned for a key that is not 64 lowercase hex
// characters. Such a key never reaches memcached.
var ErrInvalidKey = errors.New("memcachestore: invalid key: want 64 lowercase hex characters")

var (
	_ httpsession.Store      = (*Store)(nil)
	_ httpsession.Toucher    = (*Store)(nil)
	_ httpsession.OwnerIndex = (*Store)(nil)
	_ httpsession.Pinger     = (*Store)(nil)
)

// Options configure a Store. The zero value gives the defaults.
type Options struct {
	// Prefix starts the key of every item the store writes, so that its
	// items never meet an application's own cache keys on a shared server.
	// It may not hold spaces or control characters, and has at most
	// MaxPrefixLen bytes. The default value is DefaultPrefix.
	Prefix string
	// MaxItemSize is the largest item the store writes, in bytes: key,
	// value (header, owner and data) and memcached's 59 bytes of overhead.
	// A record whose item would be larger is ErrTooLarge and is not sent.
	// Set it to the servers' item size limit (memcached -I); if it is
	// larger, the servers' refusal is ErrTooLarge too. The default value
	// is DefaultMaxItemSize, 1 MiB, memcached's default; the smallest is
	// 1024.
	MaxItemSize int
	// CASCacheSize is how many sessions' CAS ids the store keeps from Get
	// so that a Put of the version read can send cas at once, one round
	// trip, rather than gets and cas. Each takes about 200 bytes. The
	// default value, for 0, is DefaultCASCacheSize; a negative value turns
	// the cache off. It saves round trips only; every Put still rests on
	// memcached's compare-and-set.
	CASCacheSize int
	// Timeout bounds each network call of a client that NewPool makes
	// (dial, read, write). The default value, for 0, is gomemcache's
	// DefaultTimeout, 500 ms: ample for memcached on a local network, short
	// for a loaded machine. New leaves the given client's Timeout alone.
	Timeout time.Duration
	// Logger receives the servers that do not answer at start and the
	// owner-index updates that failed under a record that was written.
	// The default value is slog.Default().
	Logger *slog.Logger
}

// Store keeps session records in memcached. It implements
// httpsession.Store, Toucher, OwnerIndex and Pinger, but not Lister or
// Cleaner, and is safe for concurrent use.
type Store struct {
	client  *memcache.Client
	prefix  string
	maxItem int
	cas     *casCache // nil when off
	log     *slog.Logger

	indexFailures atomic.Uint64
	lastIndexLog  atomic.Int64 // Unix nanoseconds of the last log line about one
}

// Stats count what a Store could not do.
type Stats struct {
	// IndexFailures counts the Puts and Touches that wrote the record
	// but could not update its owner's index, because the index item's
	// server did not answer. Each succeeded; the session's next Put or
	// Touch repairs the index.
	IndexFailures uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	return Stats{IndexFailures: s.indexFailures.Load()}
}

// New returns a store on client, after checking that memcached answers.
// When one of the client's servers does not answer, New still starts if
// another does: it logs the first that does not (NewPool names each) and
// the sessions whose keys map to a server that is down fail, with an error
// wrapping httpsession.ErrUnavailable, until it is back. The client's
// settings (Timeout, MaxIdleConns, the servers) stay the caller's; raise
// MaxIdleConns above gomemcache's default of 2 to about the number of
// concurrent requests.
func New(client *memcache.Client, opts Options) (*Store, error) {
	s, err := configure(client, opts)
	if err != nil {
		return nil, err
	}
	if err := s.ping(); err != nil {
		s.log.Warn("memcachestore: a memcached server does not answer; its sessions fail until it is back", "err", err)
	}
	if err := s.probe(); err != nil {
		return nil, fmt.Errorf("memcachestore: memcached does not answer: %w", unavailable(err))
	}
	return s, nil
}

// NewPool returns a store with opts on the memcached servers at addrs
// ("host:port", or a Unix socket path), spread by gomemcache's ServerList.
// It starts when at least one server answers, and logs each that does
// not. The client keeps 64 idle connections per server; use New for other
// client settings.
func NewPool(addrs []string, opts Options) (*Store, error) {
	if len(addrs) == 0 {
		return nil, errors.New("memcachestore: NewPool needs at least one server address")
	}
	var servers memcache.ServerList
	if err := servers.SetServers(addrs...); err != nil {
		return nil, fmt.Errorf("memcachestore: servers %s: %w", strings.Join(addrs, ","), err)
	}
	c := memcache.NewFromSelector(&servers)
	c.MaxIdleConns = defaultMaxIdleConns
	if opts.Timeout > 0 {
		c.Timeout = opts.Timeout
	}
	s, err := configure(c, opts)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, addr := range addrs {
		one := memcache.New(addr)
		one.Timeout = c.Timeout
		err := one.Ping()
		_ = one.Close()
		if err != nil {
			s.log.Warn("memcachestore: a memcached server does not answer; its sessions fail until it is back", "server", addr, "err", err)
			errs = append(errs, err)
		}
	}
	if len(errs) == len(addrs) {
		return nil, fmt.Errorf("memcachestore: no memcached server answers: %w", unavailable(errors.Join(errs...)))
	}
	return s, nil
}

// NewServers is NewPool with the default Options.
func NewServers(addrs ...string) (*Store, error) {
	return NewPool(addrs, Options{})
}

// configure checks opts and makes the store, without a call to memcached.
func configure(client *memcache.Client, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("memcachestore: New needs a client")
	}
	s := &Store{client: client, prefix: opts.Prefix, maxItem: opts.MaxItemSize, log: opts.Logger}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if len(s.prefix) > MaxPrefixLen || !legalKeyPart(s.prefix) {
		return nil, fmt.Errorf("memcachestore: Options.Prefix %q: want at most %d bytes without spaces or control characters", s.prefix, MaxPrefixLen)
	}
	if s.maxItem == 0 {
		s.maxItem = DefaultMaxItemSize
	}
	if s.maxItem < minItemSize {
		return nil, fmt.Errorf("memcachestore: Options.MaxItemSize %d: want at least %d", s.maxItem, minItemSize)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.cas = newCASCache(opts.CASCacheSize)
	return s, nil
}

// probeKeys bounds the reads with which New looks for a server that
// answers: the client spreads the keys over its servers, so with one of
// two servers down all of them miss the live one once in 65,536 starts.
const probeKeys = 16

// probe reads keys that no record uses until one gets an answer (a miss
// is one), which shows that a server of the client answers. Ping alone
// passes on a client without servers.
func (s *Store) probe() error {
	var err error
	for i := range probeKeys {
		_, err = s.read(s.prefix + "ping" + strconv.Itoa(i))
		if err == nil || errors.Is(err, memcache.ErrCacheMiss) {
			return nil
		}
	}
	return err
}

// Close closes the client's idle connections and forgets the CAS ids Get
// read. The store stays usable: a later call opens new connections. It
// always returns nil.
func (s *Store) Close() error {
	s.reconnect()
	return nil
}

// reconnect closes the client's idle connections, as after one of them
// broke, and forgets every CAS id: a broken connection is what a server's
// restart looks like, and a restarted server hands out CAS ids from 1
// again.
func (s *Store) reconnect() {
	s.cas.reset()
	_ = s.client.Close()
}

// Ping reports whether every server answers; its error names the first
// that does not. The store keeps working while some server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.ping(); err != nil {
		return failed("ping", err)
	}
	return nil
}

func (s *Store) ping() error {
	err := s.client.Ping()
	if brokenConn(err) {
		s.reconnect()
		err = s.client.Ping()
	}
	return err
}

// Get returns the live record under key, or an error wrapping
// httpsession.ErrNotFound. An item that is not a record this package wrote
// reads as not found.
func (s *Store) Get(ctx context.Context, key string) (httpsession.Record, error) {
	if err := s.check(ctx, key); err != nil {
		return httpsession.Record{}, err
	}
	item, err := s.read(s.prefix + key)
	if err != nil {
		s.cas.drop(key)
		if errors.Is(err, memcache.ErrCacheMiss) {
			return httpsession.Record{}, notFound("no record")
		}
		return httpsession.Record{}, failed("get", err)
	}
	h, data, ok := decodeSession(item.Value)
	if !ok {
		s.cas.drop(key)
		return httpsession.Record{}, notFound("the item is not a session record")
	}
	now := time.Now()
	if !liveAt(h.expires, now) {
		s.cas.drop(key)
		return httpsession.Record{}, notFound("the record expired")
	}
	s.cas.put(key, casEntry{casid: item.CasID, flags: item.Flags, version: h.version, expires: h.expires, owner: h.owner, at: now})
	return httpsession.Record{Data: data, Expires: time.UnixMilli(h.expires), Version: h.version, Owner: h.owner}, nil
}

// Put writes rec under key if the stored version equals rec.Version (0: no
// live record may exist) and returns the new version; otherwise it returns
// an error wrapping httpsession.ErrConflict. A record whose item would be
// over Options.MaxItemSize, or that the server refuses as too large, is
// httpsession.ErrTooLarge, and the record stored before is unchanged.
func (s *Store) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	if err := s.check(ctx, key); err != nil {
		return 0, err
	}
	mkey := s.prefix + key
	if n := len(mkey) + sessionLen(rec.Owner, len(rec.Data)) + itemOverhead; n > s.maxItem {
		return 0, fmt.Errorf("memcachestore: a record of %d bytes of data makes an item of %d bytes, over the limit of %d: %w",
			len(rec.Data), n, s.maxItem, httpsession.ErrTooLarge)
	}
	if rec.Version == 0 {
		return s.create(ctx, key, rec)
	}
	return s.update(ctx, key, rec)
}

// create writes a record that must not exist: add, or cas over an item
// that is there but expired or not a record.
func (s *Store) create(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	s.cas.drop(key) // whatever happens, the item's CAS id changes or it is not a record
	live := time.Now().Before(rec.Expires)
	// A random start, below 2^52 so that versions stay exact as JSON
	// numbers, keeps a record created again from reusing versions.
	version := rand.Uint64N(1<<52) + 1
	value := encodeSession(version, unixMilliCeil(rec.Expires), rec.Owner, rec.Data)
	if rec.Owner != "" && live {
		if err := s.indexBeforeWrite(ctx, rec.Owner, key, rec.Expires); err != nil {
			return 0, err
		}
	}
	item := &memcache.Item{Key: s.prefix + key, Value: value, Expiration: expiration(rec.Expires, time.Now())}
	reconnected := false
	for range writeAttempts {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		err := s.client.Add(item)
		switch {
		case err == nil:
			return version, nil
		case brokenConn(err) && !reconnected:
			// A pooled connection broke, as they all do when a server
			// restarts. Drop them and add again; if the first add did
			// arrive, the read below finds our own value.
			s.reconnect()
			reconnected = true
			continue
		case !errors.Is(err, memcache.ErrNotStored):
			return 0, writeError("put", err)
		}
		cur, err := s.read(item.Key)
		if errors.Is(err, memcache.ErrCacheMiss) {
			continue // gone in between: add again
		}
		if err != nil {
			return 0, failed("put", err)
		}
		if reconnected && string(cur.Value) == string(value) {
			return version, nil
		}
		if h, _, ok := decodeSession(cur.Value); ok && liveAt(h.expires, time.Now()) {
			return 0, conflict("a live record exists")
		}
		cur.Value, cur.Expiration = value, item.Expiration
		err = s.client.CompareAndSwap(cur)
		switch {
		case err == nil:
			return version, nil
		case errors.Is(err, memcache.ErrCASConflict):
			return 0, conflict("another writer created the record")
		case !errors.Is(err, memcache.ErrNotStored) && !errors.Is(err, memcache.ErrCacheMiss):
			return 0, writeError("put", err)
		}
	}
	return 0, conflict("the key kept changing")
}

// update replaces the live record of version rec.Version. When Get read
// that version of the item lately, it sends cas with the CAS id Get saw:
// one round trip. If memcached refuses that cas (the item changed, maybe
// only by a Touch, or is gone) or there is no such CAS id, it reads the
// item (gets), compares the version inside and sends cas, which decides.
func (s *Store) update(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	var f fastPut
	if e, ok := s.cas.take(key); ok && e.usable(rec.Version, time.Now()) {
		version, done, err := s.updateCached(ctx, key, rec, e, &f)
		if done {
			return version, err
		}
	}
	return s.updateRead(ctx, key, rec, &f)
}

// fastPut is what updateCached leaves for updateRead when it falls back.
type fastPut struct {
	// indexed: the owner's index holds the key until rec.Expires.
	indexed bool
	// sent is the value of a cas whose answer was lost with its
	// connection, version its version and oldOwner the owner it replaced:
	// if the item holds sent, that cas went through.
	sent     []byte
	version  uint64
	oldOwner string
}

// updateCached is update's one round trip: cas with the CAS id that Get
// saw, e. done is false when memcached refused that cas or the connection
// broke, and update must read the item to decide.
func (s *Store) updateCached(ctx context.Context, key string, rec httpsession.Record, e casEntry, f *fastPut) (version uint64, done bool, err error) {
	version = nextVersion(e.version)
	live := time.Now().Before(rec.Expires)
	if rec.Owner != "" && live {
		if err := s.indexBeforeWrite(ctx, rec.Owner, key, rec.Expires); err != nil {
			return 0, true, err
		}
		f.indexed = true
		if err := ctx.Err(); err != nil {
			return 0, true, err
		}
	}
	item := &memcache.Item{
		Key:        s.prefix + key,
		Value:      encodeSession(version, unixMilliCeil(rec.Expires), rec.Owner, rec.Data),
		Flags:      e.flags,
		Expiration: expiration(rec.Expires, time.Now()),
		CasID:      e.casid,
	}
	err = s.client.CompareAndSwap(item)
	switch {
	case err == nil:
		if e.owner != "" && (e.owner != rec.Owner || !live) {
			s.unindex(ctx, e.owner, key)
		}
		return version, true, nil
	case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		// Another writer, a Touch, or memcached's expiry or eviction.
		return 0, false, nil
	case brokenConn(err):
		// Most likely an idle connection that broke when the server
		// restarted, before the cas arrived; the read tells.
		s.reconnect()
		f.sent, f.version, f.oldOwner = item.Value, version, e.owner
		return 0, false, nil
	}
	return 0, true, writeError("put", err)
}

// updateRead is update's gets, compare the version inside, cas.
func (s *Store) updateRead(ctx context.Context, key string, rec httpsession.Record, f *fastPut) (uint64, error) {
	cur, err := s.read(s.prefix + key)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return 0, conflict("the record is gone")
	}
	if err != nil {
		return 0, failed("put", err)
	}
	live := time.Now().Before(rec.Expires)
	if f.sent != nil && string(cur.Value) == string(f.sent) {
		// The cas of updateCached went through.
		if f.oldOwner != "" && (f.oldOwner != rec.Owner || !live) {
			s.unindex(ctx, f.oldOwner, key)
		}
		return f.version, nil
	}
	now := time.Now()
	old, _, ok := decodeSession(cur.Value)
	switch {
	case !ok:
		return 0, conflict("the item is not a session record")
	case !liveAt(old.expires, now):
		return 0, conflict("the record expired")
	case old.version != rec.Version:
		return 0, conflict(fmt.Sprintf("version %d is stored, not %d", old.version, rec.Version))
	}
	version := nextVersion(old.version)
	if rec.Owner != "" && live && !f.indexed {
		if err := s.indexBeforeWrite(ctx, rec.Owner, key, rec.Expires); err != nil {
			return 0, err
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
	cur.Value = encodeSession(version, unixMilliCeil(rec.Expires), rec.Owner, rec.Data)
	cur.Expiration = expiration(rec.Expires, time.Now())
	err = s.client.CompareAndSwap(cur)
	switch {
	case errors.Is(err, memcache.ErrCASConflict):
		return 0, conflict("another writer changed the record")
	case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
		return 0, conflict("the record is gone")
	case err != nil:
		return 0, writeError("put", err)
	}
	if old.owner != "" && (old.owner != rec.Owner || !live) {
		s.unindex(ctx, old.owner, key)
	}
	return version, nil
}

// nextVersion is the version after v, never 0.
func nextVersion(v uint64) uint64 {
	if v++; v == 0 {
		v = 1
	}
	return v
}

// Delete removes the record under key and takes it out of its owner's
// index. Deleting a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	s.cas.drop(key)
	mkey := s.prefix + key
	cur, err := s.read(mkey)
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil
	}
	if err != nil {
		return failed("delete", err)
	}
	if err := s.client.Delete(mkey); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return failed("delete", err)
	}
	if h, _, ok := decodeSession(cur.Value); ok && h.owner != "" {
		s.unindex(ctx, h.owner, key)
	}
	return nil
}

// Touch moves the Expires of the live record under key, keeping its data,
// owner and version, by rewriting the header with cas. A missing or
// expired record is httpsession.ErrNotFound, and nothing is created.
func (s *Store) Touch(ctx context.Context, key string, expires time.Time) error {
	if err := s.check(ctx, key); err != nil {
		return err
	}
	// The cas below changes the item's CAS id, and so does one of
	// another writer if Touch fails: what Get read is stale.
	defer s.cas.drop(key)
	ms := unixMilliCeil(expires)
	indexed := false
	for range writeAttempts {
		cur, err := s.read(s.prefix + key)
		if errors.Is(err, memcache.ErrCacheMiss) {
			return notFound("no record")
		}
		if err != nil {
			return failed("touch", err)
		}
		now := time.Now()
		h, _, ok := decodeSession(cur.Value)
		if !ok || !liveAt(h.expires, now) {
			return notFound("no live record")
		}
		if h.owner != "" && now.Before(expires) && !indexed {
			if err := s.indexBeforeWrite(ctx, h.owner, key, expires); err != nil {
				return err
			}
			indexed = true
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		binary.BigEndian.PutUint64(cur.Value[expiresOffset:], uint64(ms))
		cur.Expiration = expiration(expires, now)
		err = s.client.CompareAndSwap(cur)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			return notFound("the record is gone")
		case !errors.Is(err, memcache.ErrCASConflict):
			return writeError("touch", err)
		}
		// A writer changed the record in between: touch its version.
	}
	return fmt.Errorf("memcachestore: touch: the record kept changing: %w", httpsession.ErrConflict)
}

// check checks the context and the key.
func (s *Store) check(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !storekey.Valid(key) {
		return ErrInvalidKey
	}
	return nil
}

// indexKey is the memcached key of owner's index.
func (s *Store) indexKey(owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return s.prefix + ownerInfix + hex.EncodeToString(sum[:])
}

// read is the client's Get (a gets), tried again once on a pooled
// connection that broke while idle, as every one of them does when a
// server restarts.
func (s *Store) read(key string) (*memcache.Item, error) {
	item, err := s.client.Get(key)
	if brokenConn(err) {
		s.reconnect() // the other idle connections broke too
		item, err = s.client.Get(key)
	}
	return item, err
}

// readMulti is read for many keys, spread over the servers.
func (s *Store) readMulti(keys []string) (map[string]*memcache.Item, error) {
	items, err := s.client.GetMulti(keys)
	if brokenConn(err) {
		s.reconnect()
		items, err = s.client.GetMulti(keys)
	}
	return items, err
}

// brokenConn reports whether err says that the connection failed, rather
// than the server answering.
func brokenConn(err error) bool {
	return err != nil && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed))
}

// writeError wraps the error of a write.
func writeError(op string, err error) error {
	return failed(op, serverError(err))
}

// failed wraps the error of a call to memcached, marked
// httpsession.ErrUnavailable when the server could not be reached.
func failed(op string, err error) error {
	return fmt.Errorf("memcachestore: %s: %w", op, unavailable(err))
}

// unavailable adds httpsession.ErrUnavailable to err when it says that no
// server could be reached or answered in time: a refused or broken
// connection, a timeout, no server. Answers of a server are left alone.
func unavailable(err error) error {
	var ne net.Error
	var cte *memcache.ConnectTimeoutError
	switch {
	case errors.Is(err, httpsession.ErrUnavailable):
		return err
	case brokenConn(err), errors.As(err, &ne), errors.As(err, &cte),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, memcache.ErrNoServers):
		return fmt.Errorf("%w: %w", httpsession.ErrUnavailable, err)
	}
	return err
}

// serverError makes memcached's "SERVER_ERROR object too large for cache"
// ErrTooLarge. memcached answers so before it stores anything, and, unlike
// set, add and cas leave the old item alone.
func serverError(err error) error {
	if strings.Contains(err.Error(), "object too large") {
		return fmt.Errorf("the server refused the item as too large (%w): %w", err, httpsession.ErrTooLarge)
	}
	return err
}

func notFound(why string) error {
	return fmt.Errorf("memcachestore: %s: %w", why, httpsession.ErrNotFound)
}

func conflict(why string) error {
	return fmt.Errorf("memcachestore: %s: %w", why, httpsession.ErrConflict)
}
