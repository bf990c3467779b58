// Package redisstore is an httpsession.Store on Redis, through a go-redis v9
// redis.UniversalClient: a single server, a Sentinel-managed primary
// (redis.NewFailoverClient) or a Redis Cluster (redis.NewClusterClient);
// a redis.Ring works too. It needs Redis 5.0 or later.
//
// # Layout
//
// With the default prefix "httpsession:", a session with key K (64
// lowercase hex characters, the Manager's SHA-256 of the token) is the hash
//
//	httpsession:K   data  the codec's bytes
//	                exp   Expires in Unix milliseconds
//	                ver   the compare-and-set version, in decimal
//	                owner the principal, "" for none
//
// whose Redis expiry is set to exp (PEXPIREAT) in the same script that
// writes it, so no session ever lives in Redis without a deadline. The
// owner index is one set per owner,
//
//	httpsession:owner:OWNER   members: the keys K of OWNER's sessions
//
// whose expiry is pushed out to the latest expiry of its sessions. Keys
// that are not 64 lowercase hex characters are refused with ErrInvalidKey
// before any Redis key is built.
//
// A hash rather than one packed string lets Touch rewrite exp and the key's
// expiry without reading or rewriting data, and keeps records readable
// with redis-cli (HGETALL).
//
// # Atomicity
//
// Put is one Lua script (EVALSHA, EVAL on a server that lacks it) on the
// session's key: it checks the version, writes the four fields and sets
// the expiry, or changes nothing. A version of 0 requires that the key does
// not exist; any other version requires that it exists with that version,
// so a Put never brings back a session that was deleted or has expired.
// Touch is a script that moves exp and the expiry only of a key that
// exists; Delete is a script that reads the owner and deletes the key.
//
// Versions are random 64-bit numbers drawn afresh by each Put, not a
// counter. go-redis retries a command whose reply was lost on the network;
// a retried Put then finds its own version stored and reports success
// instead of a conflict with itself, which would make the Manager apply
// the request's changes twice. And a session deleted and created again
// under the same key does not reuse the versions of its predecessor.
//
// # Redis Cluster
//
// Every script touches one key, so works on any cluster slot; no hash tag
// is used, so sessions spread over all masters, and New refuses a prefix
// with a brace, which could make every key share one tag and one slot. The
// owner set of a session lives in another slot in general, so it is
// updated in separate steps after the script: add to the new owner's set,
// then remove from the old owner's set, then read the record again and add
// it back if, meanwhile, a concurrent Put made that owner its owner again.
// The index may therefore, for a moment or after a failure, name a key
// that is gone or has changed owner; OwnerKeys checks every member against
// its record, returns only those the owner still owns and removes the
// rest. It does not miss a live session: every write and every Touch of an
// owned session adds the key again and pushes out the set's expiry, and no
// step removes a key without checking the record afterwards.
//
// If an index step fails after the record was written (the set lives on a
// master that is down), the Put, Touch or Delete still succeeds: the
// failure is logged to Options.Logger and counted (Stats), and a missing
// entry is kept in memory and added by the next index step of this Store
// that succeeds, by OwnerKeys of that owner, or by the session's next Put
// or Touch. Failing the save instead would make a client that retries
// apply its changes twice, since the record is already written.
//
// A go-redis ClusterClient reloads its slot map on a MOVED reply and on a
// timer, ClusterStateReloadInterval, 60 s by default, but not when a
// master stops answering: after a failover it would go on calling the dead
// master until the timer fires. The Store asks the client for a reload
// (ClusterClient.ReloadState) whenever a call fails as unavailable, so a
// promoted replica is used at once; set ClusterStateReloadInterval to a
// few seconds too (store/open uses 2 s), for the changes that show no
// error.
//
// # Sentinel
//
// Use a go-redis failover client (redis.NewFailoverClient) with the
// sentinels' addresses and the master name; it asks the sentinels for the
// primary and follows a failover. New refuses a client connected to a
// sentinel itself (INFO server says redis_mode:sentinel): a sentinel
// answers PING, but keeps no data and refuses every command the store
// sends.
//
// # Errors
//
// Errors that say the server cannot be used right now wrap
// httpsession.ErrUnavailable beside the go-redis error, so the default
// ErrorHandler answers 503 with Retry-After: connection refused or reset,
// timeouts and deadlines, a full pool, and the replies CLUSTERDOWN,
// TRYAGAIN, LOADING, READONLY (a primary turned replica by a failover),
// MASTERDOWN and max clients.
//
// # Guarantees
//
// Redis is as durable as its configuration: with RDB snapshots alone the
// last minutes of writes can be lost on a crash, with appendonly yes and
// appendfsync everysec (the usual choice) about one second, with
// appendfsync always none. Replication is asynchronous: a failover may
// lose acknowledged writes, including a logout's Delete, so that a
// destroyed session comes back; keep absolute timeouts short. Run the
// server with maxmemory-policy noeviction (writes fail when memory is
// full) or on an instance of its own: under allkeys-* or volatile-*
// policies Redis evicts sessions, which logs users out, and every session
// key has an expiry, so volatile-* picks sessions first.
//
// Expiry is Redis's own, to the millisecond, by the server's clock: keep
// the clocks of application servers and Redis in sync. There is no
// Cleaner; an expired session disappears from Get, List and OwnerKeys at
// once and from memory shortly after.
//
// The Store does not own the client: closing it is the caller's job. Set
// ContextTimeoutEnabled in the client's options so that each call honours
// the request's deadline, not only the client's read and write timeouts.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/storekey"
)

// DefaultPrefix is the prefix of every Redis key the store writes when
// Options.Prefix is empty.
const DefaultPrefix = "httpsession:"

// DefaultMaxRecordSize is the limit on a record's Data when
// Options.MaxRecordSize is zero: 16 MiB.
const DefaultMaxRecordSize = 16 << 20

// MaxOwnerSize is the longest Record.Owner that Put accepts, in bytes.
const MaxOwnerSize = 1024

// pingTimeout bounds the ping New makes.
const pingTimeout = 10 * time.Second

// ErrInvalidKey is returned for a key that is not 64 lowercase hex
// characters.
var ErrInvalidKey = errors.New("redisstore: invalid key: want 64 lowercase hex characters")

// Options configure a Store. The zero value gives the defaults.
type Options struct {
	// Prefix starts every Redis key the store writes, so that sessions
	// share a server with other data without colliding with it. It may not
	// contain '{' or '}': a Redis Cluster hash tag in the prefix would put
	// every session in one slot. The default value is DefaultPrefix.
	Prefix string
	// MaxRecordSize is the largest Record.Data that Put accepts, in bytes;
	// a larger one is ErrTooLarge. The default value is
	// DefaultMaxRecordSize.
	MaxRecordSize int
	// Logger receives a line for each owner index update that failed
	// after the record was written (see Stats). The default is
	// slog.Default().
	Logger *slog.Logger
}

// Store keeps sessions in Redis. It implements httpsession.Store,
// Toucher, Lister, OwnerIndex and Pinger, and is safe for concurrent use.
type Store struct {
	client        redis.UniversalClient
	prefix        string
	maxSize       int
	log           *slog.Logger
	indexFailures atomic.Uint64
	repairAfter   atomic.Int64 // Unix ns before which a write repairs no pending index entries

	mu      sync.Mutex
	pending map[string]ownerExp // session key -> the owner set it is missing from
}

var (
	_ httpsession.Store      = (*Store)(nil)
	_ httpsession.Toucher    = (*Store)(nil)
	_ httpsession.Lister     = (*Store)(nil)
	_ httpsession.OwnerIndex = (*Store)(nil)
	_ httpsession.Pinger     = (*Store)(nil)
)

// New returns a store that keeps its records through client. It pings the
// server (every master of a cluster) and returns an error if it does not
// answer within 10 seconds, or if opts are invalid.
func New(client redis.UniversalClient, opts Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: New needs a client")
	}
	s := &Store{client: client, prefix: opts.Prefix, maxSize: opts.MaxRecordSize, log: opts.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if strings.ContainsAny(s.prefix, "{}") {
		return nil, fmt.Errorf("redisstore: Prefix %q contains a brace: a Redis Cluster hash tag there would put every session in one slot", s.prefix)
	}
	if s.maxSize < 0 {
		return nil, fmt.Errorf("redisstore: MaxRecordSize %d is negative", s.maxSize)
	}
	if s.maxSize == 0 {
		s.maxSize = DefaultMaxRecordSize
	}
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := s.ping(ctx); err != nil {
		return nil, fmt.Errorf("redisstore: the Redis server does not answer: %w", err)
	}
	if addr := s.sentinel(ctx); addr != "" {
		return nil, fmt.Errorf("redisstore: %s is a Redis Sentinel, which keeps no data: connect through redis.NewFailoverClient with the sentinels' addresses and the master name (in store/open: redis+sentinel://HOST:PORT,.../MASTERNAME)", addr)
	}
	return s, nil
}

// sentinel returns the address of a node behind the client that says it
// is a Sentinel (INFO server: redis_mode:sentinel), or "". Sentinels
// answer PING like any server, and then refuse every command the store
// sends. A node that does not answer INFO is not judged.
func (s *Store) sentinel(ctx context.Context) string {
	nodes, err := s.nodes(ctx)
	if err != nil {
		return ""
	}
	for _, n := range nodes {
		info, err := n.Info(ctx, "server").Result()
		if err == nil && strings.Contains(info, "redis_mode:sentinel") {
			if c, ok := n.(*redis.Client); ok {
				return c.Options().Addr
			}
			return "the server"
		}
	}
	return ""
}

// casScript is Put's compare-and-set. It returns the previous owner ("" for
// none or for a create), or nil for a conflict.
//
//	KEYS[1] the session key
//	ARGV    expected version ("0": the key must not exist), data,
//	        expiry in Unix ms, owner, new version
var casScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'ver')
if cur == ARGV[5] then
	-- This very write, applied by an attempt whose reply was lost.
	return ''
end
if ARGV[1] == '0' then
	if redis.call('EXISTS', KEYS[1]) == 1 then return false end
elseif cur ~= ARGV[1] then
	return false
end
local old = redis.call('HGET', KEYS[1], 'owner') or ''
redis.call('HSET', KEYS[1], 'data', ARGV[2], 'exp', ARGV[3], 'ver', ARGV[5], 'owner', ARGV[4])
redis.call('PEXPIREAT', KEYS[1], ARGV[3])
return old
`)

// touchScript moves the expiry of an existing session and returns its
// owner, or nil if there is no such session.
//
//	KEYS[1] the session key
//	ARGV    expiry in Unix ms
var touchScript = redis.NewScript(`
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return false end
redis.call('HSET', KEYS[1], 'exp', ARGV[1])
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return owner
`)

// deleteScript deletes a session and returns its owner ("" for none or
// for a missing session).
//
//	KEYS[1] the session key
var deleteScript = redis.NewScript(`
local owner = redis.call('HGET', KEYS[1], 'owner')
redis.call('DEL', KEYS[1])
return owner or ''
`)

// recordFields are the hash fields, in the order Get reads them.
var recordFields = []string{"data", "exp", "ver", "owner"}

// Get returns the live record under key, or an error wrapping
// httpsession.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (httpsession.Record, error) {
	if !validKey(key) {
		return httpsession.Record{}, ErrInvalidKey
	}
	vals, err := s.client.HMGet(ctx, s.prefix+key, recordFields...).Result()
	if err != nil {
		return httpsession.Record{}, s.wrap("get", err)
	}
	rec, err := parseRecord(vals)
	if err != nil {
		return httpsession.Record{}, fmt.Errorf("redisstore: get: %w", err)
	}
	return rec, nil
}

// parseRecord turns the values of recordFields into a record. A missing
// key is ErrNotFound; so is a hash this package did not write, with the
// reason.
func parseRecord(vals []any) (httpsession.Record, error) {
	if len(vals) != len(recordFields) || vals[2] == nil {
		return httpsession.Record{}, httpsession.ErrNotFound
	}
	data, okData := vals[0].(string)
	exp, okExp := vals[1].(string)
	ver, okVer := vals[2].(string)
	owner, okOwner := vals[3].(string)
	if !okData || !okExp || !okVer || !okOwner {
		return httpsession.Record{}, fmt.Errorf("not a session record (fields missing): %w", httpsession.ErrNotFound)
	}
	ms, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return httpsession.Record{}, fmt.Errorf("not a session record (exp %q): %w", exp, httpsession.ErrNotFound)
	}
	v, err := strconv.ParseUint(ver, 10, 64)
	if err != nil || v == 0 {
		return httpsession.Record{}, fmt.Errorf("not a session record (ver %q): %w", ver, httpsession.ErrNotFound)
	}
	return httpsession.Record{
		Data:    []byte(data),
		Expires: time.UnixMilli(ms),
		Version: v,
		Owner:   owner,
	}, nil
}

// Put writes rec under key if the stored version is rec.Version (0: no
// session may exist under key) and returns the new version. Otherwise it
// returns an error wrapping httpsession.ErrConflict and changes nothing.
// Data over Options.MaxRecordSize, or an Owner over MaxOwnerSize, is
// httpsession.ErrTooLarge and writes nothing.
func (s *Store) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	if !validKey(key) {
		return 0, ErrInvalidKey
	}
	if err := storekey.CheckSize("redisstore: put", rec, s.maxSize, MaxOwnerSize); err != nil {
		return 0, err
	}
	ver := newVersion(rec.Version)
	exp := unixMilli(rec.Expires)
	oldOwner, err := casScript.Run(ctx, s.client, []string{s.prefix + key},
		strconv.FormatUint(rec.Version, 10), rec.Data, exp, rec.Owner, strconv.FormatUint(ver, 10)).Text()
	if errors.Is(err, redis.Nil) {
		return 0, fmt.Errorf("redisstore: put: %w", httpsession.ErrConflict)
	}
	if err != nil {
		return 0, s.wrap("put", err)
	}
	s.reindex(ctx, key, oldOwner, rec.Owner, exp)
	return ver, nil
}

// newVersion returns a random version that is neither 0 nor old.
func newVersion(old uint64) uint64 {
	for {
		if v := rand.Uint64(); v != 0 && v != old {
			return v
		}
	}
}

// unixMilli returns t in Unix milliseconds, rounded down: Redis keeps a
// key through the millisecond of its expiry, so the record never ends
// before t. Times before 1970 become 1, which PEXPIREAT takes as past.
func unixMilli(t time.Time) int64 {
	return max(t.UnixMilli(), 1)
}

// Delete removes the session under key and its entry in its owner's
// index. Deleting a missing key is not an error. Once the session is
// deleted, a failure to update the index is counted (Stats().IndexFailures) and
// logged, not returned: OwnerKeys drops the stale entry.
func (s *Store) Delete(ctx context.Context, key string) error {
	if !validKey(key) {
		return ErrInvalidKey
	}
	owner, err := deleteScript.Run(ctx, s.client, []string{s.prefix + key}).Text()
	if err != nil {
		return s.wrap("delete", err)
	}
	if owner != "" {
		if _, err := s.unindex(ctx, owner, []string{key}); err != nil {
			s.indexFailed("delete", key, err)
		}
	}
	return nil
}

// Touch moves the expiry of the live session under key to expires,
// leaving its data, owner and version alone. A missing or expired session
// is httpsession.ErrNotFound, and nothing is created. An expires in the
// past ends the session. As with Put, a failure to update the owner index
// after the expiry moved is counted and logged, not returned.
func (s *Store) Touch(ctx context.Context, key string, expires time.Time) error {
	if !validKey(key) {
		return ErrInvalidKey
	}
	exp := unixMilli(expires)
	owner, err := touchScript.Run(ctx, s.client, []string{s.prefix + key}, exp).Text()
	if err != nil {
		return s.wrap("touch", err)
	}
	if owner != "" && exp > time.Now().UnixMilli() {
		s.indexOwned(ctx, "touch", owner, key, exp)
	}
	return nil
}

// Ping reports whether the server answers; for a cluster or a ring, every
// master or shard.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.ping(ctx); err != nil {
		return s.wrap("ping", err)
	}
	return nil
}

func (s *Store) ping(ctx context.Context) error {
	nodes, err := s.nodes(ctx)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		if err := n.Ping(ctx).Err(); err != nil {
			return err
		}
	}
	return nil
}

// wrap adds the package and the operation to a Redis error; redis.Nil
// becomes httpsession.ErrNotFound, and an error that says the server could
// not be reached (see unavailable) wraps httpsession.ErrUnavailable too.
func (s *Store) wrap(op string, err error) error {
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("redisstore: %s: %w", op, httpsession.ErrNotFound)
	}
	if s.unavailable(err) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, httpsession.ErrUnavailable, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// unavailable reports whether err says that the server could not be
// reached or did not answer in time, or is failing over or starting:
// errors that a later try may not get. On a cluster it also has the client
// reload its slot map: go-redis reloads it on a MOVED reply and on a timer
// (ClusterStateReloadInterval, 60 s by default), but not when a master it
// knows stops answering, so without this a promoted replica would be used
// only when the timer fires. The reloads are coalesced by go-redis, at
// most about five a second.
func (s *Store) unavailable(err error) bool {
	if !unavailable(err) {
		return false
	}
	if c, ok := s.client.(*redis.ClusterClient); ok {
		c.ReloadState(context.Background())
	}
	return true
}

func unavailable(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, redis.ErrClosed):
		// The caller gave up, or closed the client: the server is not
		// to blame.
		return false
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr), // refused, reset, timed out, no route
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted),
		redis.IsClusterDownError(err), // no master serves the slot
		redis.IsTryAgainError(err),    // a slot in migration, or a failover
		redis.IsLoadingError(err),     // the server is loading its data at start
		redis.IsReadOnlyError(err),    // a replica, still named as a master until the failover is known
		redis.IsMasterDownError(err),  // a replica that lost its master
		redis.IsMaxClientsError(err):
		return true
	}
	// go-redis's sentinel client builds this one with errors.New.
	return strings.Contains(err.Error(), "all sentinels specified in configuration are unreachable")
}

// validKey reports whether key is 64 lowercase hex characters, the only
// keys this package builds Redis keys from.
var validKey = storekey.Valid
