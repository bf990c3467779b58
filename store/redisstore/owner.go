package redisstore

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// indexSlack is how long an owner set outlives the latest expiry of its
// sessions. The script that pushes the set's expiry out reads the current
// one to the millisecond or two; the slack makes sure that error can never
// let the set expire before one of its sessions.
const indexSlack = time.Minute

// ownerBatch bounds the commands of one pipeline in OwnerKeys.
const ownerBatch = 500

// indexScript adds a key to an owner set and pushes the set's expiry out
// to the given time if it is later than the current one. PTTL plus the
// server's TIME gives the current expiry before Redis 7.0 too, which
// PEXPIRETIME and PEXPIREAT GT need (and GT never sets the expiry of a key
// that has none, as a new set has).
//
//	KEYS[1] the owner set
//	ARGV    the session's key (64 hex), the set's new expiry in Unix ms
var indexScript = redis.NewScript(`
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[1])
local exp = tonumber(ARGV[2])
if ttl >= 0 then
	local now = redis.call('TIME')
	if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) + ttl >= exp then
		return 0
	end
end
redis.call('PEXPIREAT', KEYS[1], ARGV[2])
return 1
`)

func (s *Store) ownerKey(owner string) string { return s.prefix + "owner:" + owner }

// index adds key to owner's set, which then lives at least until exp (in
// Unix ms) plus indexSlack.
func (s *Store) index(ctx context.Context, owner, key string, exp int64) error {
	setExp := exp + indexSlack.Milliseconds()
	return indexScript.Run(ctx, s.client, []string{s.ownerKey(owner)}, key, setExp).Err()
}

// reindex brings the owner index up to date after a Put changed the
// session under key from oldOwner to newOwner with expiry exp (Unix ms).
// The new owner's set is updated first: if the next step fails, the index
// holds a key too many, never one too few. The record is written by now,
// so a failed step fails not the Put: see indexFailed.
func (s *Store) reindex(ctx context.Context, key, oldOwner, newOwner string, exp int64) {
	live := exp > time.Now().UnixMilli()
	if newOwner != "" && live {
		s.indexOwned(ctx, "put", newOwner, key, exp)
	} else {
		s.forget(key)
	}
	if oldOwner != "" && (oldOwner != newOwner || !live) {
		if _, err := s.unindex(ctx, oldOwner, []string{key}); err != nil {
			// The old owner's set names the key still, which OwnerKeys
			// checks against the record and drops.
			s.indexFailed("put", key, err)
		}
	}
}

// maxPending bounds the owner-set additions a Store keeps to repair.
const maxPending = 10000

// repairBatch bounds the pending additions one successful index step
// repairs on the way; repairTimeout bounds the time it spends on them, and
// after a failed repair the next waits repairBackoff, so that a set on a
// server that hangs costs a write at most repairTimeout now and then.
const (
	repairBatch   = 8
	repairTimeout = 200 * time.Millisecond
	repairBackoff = time.Second
)

// indexOwned adds key, a session of owner that lives until exp (Unix ms),
// to owner's set. If that fails (the set's server is down, on a cluster
// often another master than the session's), the session is missing from
// the index: the failure is counted and logged, and the addition kept to
// be repaired by the next successful index step of this Store, by
// OwnerKeys of that owner, or by the session's next Put or Touch. When it
// succeeds, it repairs a few pending additions of other sessions.
func (s *Store) indexOwned(ctx context.Context, op, owner, key string, exp int64) {
	if err := s.index(ctx, owner, key, exp); err != nil {
		s.indexFailed(op, key, err)
		s.mu.Lock()
		if _, ok := s.pending[key]; ok || len(s.pending) < maxPending {
			if s.pending == nil {
				s.pending = map[string]ownerExp{}
			}
			s.pending[key] = ownerExp{owner, exp}
		}
		s.mu.Unlock()
		return
	}
	s.forget(key)
	if now := time.Now().UnixNano(); now >= s.repairAfter.Load() && s.hasPending() {
		ctx, cancel := context.WithTimeout(ctx, repairTimeout)
		defer cancel()
		if err := s.repair(ctx, "", repairBatch); err != nil {
			s.repairAfter.Store(now + repairBackoff.Nanoseconds())
		}
	}
}

func (s *Store) hasPending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) > 0
}

// forget drops the pending addition of key: a newer write decides.
func (s *Store) forget(key string) {
	s.mu.Lock()
	delete(s.pending, key)
	s.mu.Unlock()
}

// repair retries up to limit pending additions (of owner's sessions only,
// unless owner is ""), and returns the first error. An addition whose
// session has expired meanwhile is dropped.
func (s *Store) repair(ctx context.Context, owner string, limit int) error {
	type job struct {
		key string
		oe  ownerExp
	}
	var jobs []job
	s.mu.Lock()
	for k, oe := range s.pending {
		if len(jobs) == limit {
			break
		}
		if owner == "" || oe.owner == owner {
			jobs = append(jobs, job{k, oe})
		}
	}
	s.mu.Unlock()
	now := time.Now().UnixMilli()
	for _, j := range jobs {
		if j.oe.exp > now {
			if err := s.index(ctx, j.oe.owner, j.key, j.oe.exp); err != nil {
				return err
			}
		}
		s.mu.Lock()
		if s.pending[j.key] == j.oe { // not replaced by a newer write meanwhile
			delete(s.pending, j.key)
		}
		s.mu.Unlock()
	}
	return nil
}

// indexFailed counts and logs an owner index step that failed after the
// record was written, deleted or touched.
func (s *Store) indexFailed(op, key string, err error) {
	s.indexFailures.Add(1)
	s.log.Warn("redisstore: owner index not updated; the session itself is saved, the index is repaired later",
		"op", op, "key", key[:8], "err", s.wrap("index", err))
}

// Stats are a Store's counters.
type Stats struct {
	// IndexFailures counts the owner index updates that failed after the
	// write they belong to (Put, Touch or Delete) had succeeded. Such a
	// failure does not fail the write: a client that retried a request
	// that answered an error would apply its changes twice, while the
	// index can be mended. Each one is logged; a missing entry is added
	// again by a later successful index update of this Store, by
	// OwnerKeys of the owner, or by the session's next Put or Touch, and
	// an entry too many is dropped by OwnerKeys.
	IndexFailures uint64
}

// Stats returns the store's counters since it was created.
func (s *Store) Stats() Stats { return Stats{IndexFailures: s.indexFailures.Load()} }

// unindex removes keys from owner's set, then reads their records again and
// adds back those that owner owns after all, which it returns. Between a
// Put's script and its index steps another Put of the same session may
// have run all of its own: without the second look, two Puts that change
// an owner back and forth could leave a live session out of its owner's
// set for good.
func (s *Store) unindex(ctx context.Context, owner string, keys []string) ([]string, error) {
	members := make([]any, len(keys))
	for i, k := range keys {
		members[i] = k
	}
	if err := s.client.SRem(ctx, s.ownerKey(owner), members...).Err(); err != nil {
		return nil, err
	}
	recs, err := s.owners(ctx, keys)
	if err != nil {
		return nil, err
	}
	var kept []string
	for i, r := range recs {
		if r.owner == owner {
			if err := s.index(ctx, owner, keys[i], r.exp); err != nil {
				return nil, err
			}
			kept = append(kept, keys[i])
		}
	}
	return kept, nil
}

// ownerExp is a session's owner and expiry (Unix ms); a zero value for a
// missing session.
type ownerExp struct {
	owner string
	exp   int64
}

// owners reads the owner and expiry of the sessions under keys, pipelined
// in batches.
func (s *Store) owners(ctx context.Context, keys []string) ([]ownerExp, error) {
	out := make([]ownerExp, 0, len(keys))
	for batch := range slices.Chunk(keys, ownerBatch) {
		cmds, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range batch {
				p.HMGet(ctx, s.prefix+k, "owner", "exp")
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for _, cmd := range cmds {
			var r ownerExp
			vals := cmd.(*redis.SliceCmd).Val()
			owner, ok1 := vals[0].(string)
			exp, ok2 := vals[1].(string)
			if ms, err := strconv.ParseInt(exp, 10, 64); ok1 && ok2 && err == nil {
				r = ownerExp{owner, ms}
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// OwnerKeys returns the keys of owner's live sessions, in no particular
// order, and removes from owner's set the keys of sessions that are gone
// or belong to another owner now. The empty owner has no sessions.
func (s *Store) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	if owner == "" {
		return nil, nil
	}
	if err := s.repair(ctx, owner, maxPending); err != nil {
		return nil, s.wrap("owner keys", err)
	}
	members, err := s.client.SMembers(ctx, s.ownerKey(owner)).Result()
	if err != nil {
		return nil, s.wrap("owner keys", err)
	}
	// Only this package writes the set, but a Redis key is anyone's to
	// write: drop members no session key can be built from.
	var keys []string
	var invalid []any
	for _, m := range members {
		if validKey(m) {
			keys = append(keys, m)
		} else {
			invalid = append(invalid, m)
		}
	}
	if len(invalid) > 0 {
		if err := s.client.SRem(ctx, s.ownerKey(owner), invalid...).Err(); err != nil {
			return nil, s.wrap("owner keys", err)
		}
	}
	recs, err := s.owners(ctx, keys)
	if err != nil {
		return nil, s.wrap("owner keys", err)
	}
	var live, stale []string
	for i, r := range recs {
		if r.owner == owner {
			live = append(live, keys[i])
		} else {
			stale = append(stale, keys[i])
		}
	}
	if len(stale) > 0 {
		kept, err := s.unindex(ctx, owner, stale)
		if err != nil {
			return nil, s.wrap("owner keys", err)
		}
		live = append(live, kept...)
	}
	return live, nil
}
