package memcachestore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
)

const (
	// indexAttempts bounds the gets-and-cas loop on an owner's index.
	indexAttempts = 16
	// indexSlack is how long an index outlives the latest Expires it was
	// written for, so that touches that slide a session's expiry seldom
	// need to rewrite it.
	indexSlack = time.Hour
)

// An entry's hint is the latest Expires written for its session. While the
// hint is ahead, the entry is kept even if its session is not (yet) there:
// Put and Touch write the index before the session, and a Put in flight
// must not lose its entry. Once the hint has passed, an entry whose
// session is gone, expired or of another owner is dropped when the index
// is next written; one whose session lives on (it was touched) gets its
// hint moved up instead.

// OwnerKeys returns the keys of owner's live records, read from the
// owner's index and checked against the records themselves. Entries that
// lead nowhere are dropped from the index, best effort. The empty owner has
// no records.
func (s *Store) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if owner == "" {
		return nil, nil
	}
	item, err := s.read(s.indexKey(owner))
	if errors.Is(err, memcache.ErrCacheMiss) {
		return nil, nil
	}
	if err != nil {
		return nil, failed("owner index", err)
	}
	idx, _ := decodeIndex(item.Value) // one that does not decode is empty
	checked := map[[32]byte]bool{}
	live := map[[32]byte]int64{}
	if err := s.checkEntries(ctx, owner, &idx, checked, live, func(indexEntry) bool { return true }); err != nil {
		return nil, err
	}
	// A session on a server that does not answer may be live: an answer
	// without it could let "sign out everywhere" miss it.
	if n := len(idx.entries) - len(checked); n > 0 {
		return nil, fmt.Errorf("memcachestore: owner index: %d of the owner's sessions are on a server that does not answer: %w",
			n, httpsession.ErrUnavailable)
	}
	var keys []string
	for _, e := range idx.entries {
		if _, ok := live[e.key]; ok {
			keys = append(keys, hex.EncodeToString(e.key[:]))
		}
	}
	if idx.prune(checked, live, time.Now().UnixMilli(), false) {
		_ = s.updateIndex(ctx, owner, func(idx *ownerIndex) (bool, error) {
			return idx.prune(checked, live, time.Now().UnixMilli(), false), nil
		})
	}
	return keys, nil
}

// index makes sure that owner's index holds key and lasts until expires.
// It writes only when the key is missing, its hint has passed or the index
// would go too early. When it writes, it drops the entries whose hint has
// passed and whose session is gone, and, should the index outgrow the item
// size, every entry whose session is gone.
func (s *Store) index(ctx context.Context, owner, key string, expires time.Time) error {
	k := keyBytes(key)
	exp := unixMilliCeil(expires)
	ikey := s.indexKey(owner)
	// Sessions checked so far, kept across attempts.
	checked := map[[32]byte]bool{}
	live := map[[32]byte]int64{}
	err := s.updateIndex(ctx, owner, func(idx *ownerIndex) (bool, error) {
		now := time.Now().UnixMilli()
		i := idx.find(k)
		if i >= 0 && idx.entries[i].hint > now && idx.cover >= exp {
			return false, nil
		}
		if i < 0 {
			idx.entries = append(idx.entries, indexEntry{key: k, hint: exp})
		} else {
			idx.entries[i].hint = max(idx.entries[i].hint, exp)
		}
		idx.cover = max(idx.cover, exp+indexSlack.Milliseconds())
		others := func(e indexEntry) bool { return e.key != k }
		stale := func(e indexEntry) bool { return e.key != k && e.hint <= now }
		if err := s.checkEntries(ctx, owner, idx, checked, live, stale); err != nil {
			return false, err
		}
		idx.prune(checked, live, now, false)
		if s.indexFits(ikey, idx) {
			return true, nil
		}
		if err := s.checkEntries(ctx, owner, idx, checked, live, others); err != nil {
			return false, err
		}
		idx.prune(checked, live, now, true)
		if !s.indexFits(ikey, idx) {
			return false, fmt.Errorf("memcachestore: the owner has %d live sessions, too many for the index item: %w",
				len(idx.entries), httpsession.ErrTooLarge)
		}
		return true, nil
	})
	if err != nil {
		return failed("owner index", err)
	}
	return nil
}

// indexLogEvery is how often at most a failed index update is logged.
const indexLogEvery = 10 * time.Second

// indexBeforeWrite is index for a Put or Touch of a live owned record. An
// index whose server does not answer does not stop the write: the
// session matters more than finding it by its owner, and the session's
// next Put or Touch writes the index again. Such a failure is counted in
// Stats and logged, at most once per indexLogEvery.
func (s *Store) indexBeforeWrite(ctx context.Context, owner, key string, expires time.Time) error {
	err := s.index(ctx, owner, key, expires)
	if err == nil || !errors.Is(err, httpsession.ErrUnavailable) || ctx.Err() != nil {
		return err
	}
	n := s.indexFailures.Add(1)
	now := time.Now().UnixNano()
	if last := s.lastIndexLog.Load(); now-last >= int64(indexLogEvery) && s.lastIndexLog.CompareAndSwap(last, now) {
		s.log.Warn("memcachestore: a session was written but its owner's index was not; its next save repairs it",
			"index_failures", n, "err", err)
	}
	return nil
}

// unindex takes key out of owner's index, best effort: an entry left
// behind is skipped by OwnerKeys and dropped later.
func (s *Store) unindex(ctx context.Context, owner, key string) {
	k := keyBytes(key)
	_ = s.updateIndex(ctx, owner, func(idx *ownerIndex) (bool, error) {
		i := idx.find(k)
		if i < 0 {
			return false, nil
		}
		idx.entries = slices.Delete(idx.entries, i, i+1)
		return true, nil
	})
}

// updateIndex applies change to owner's index with gets and cas (add when
// there is none), reading again and retrying with jitter when another
// writer came first. change reports whether there is anything to write.
// An index left empty is expired at once.
func (s *Store) updateIndex(ctx context.Context, owner string, change func(*ownerIndex) (bool, error)) error {
	ikey := s.indexKey(owner)
	for attempt := range indexAttempts {
		if err := pause(ctx, attempt); err != nil {
			return err
		}
		item, err := s.read(ikey)
		var idx ownerIndex
		switch {
		case errors.Is(err, memcache.ErrCacheMiss):
			item = nil
		case err != nil:
			return err
		default:
			idx, _ = decodeIndex(item.Value) // one that does not decode is replaced
		}
		write, err := change(&idx)
		if err != nil || !write {
			return err
		}
		now := time.Now()
		exp := expiration(time.UnixMilli(idx.cover), now)
		if len(idx.entries) == 0 {
			if item == nil {
				return nil
			}
			exp = -1
		}
		if item == nil {
			err = s.client.Add(&memcache.Item{Key: ikey, Value: idx.encode(), Expiration: exp})
		} else {
			item.Value, item.Expiration = idx.encode(), exp
			err = s.client.CompareAndSwap(item)
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrCacheMiss):
			// Another writer came first.
		default:
			return serverError(err)
		}
	}
	return fmt.Errorf("still contended after %d attempts", indexAttempts)
}

// pause waits before attempt number attempt (none before the first) a
// random time that grows with the attempt, up to 8 ms.
func pause(ctx context.Context, attempt int) error {
	if attempt == 0 {
		return ctx.Err()
	}
	t := time.NewTimer(rand.N(time.Duration(min(attempt, 8)) * time.Millisecond))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkEntries reads the sessions of the entries of idx that want selects
// and that are not checked yet (one get per server), marks them checked,
// and puts the Expires of those that are live and of owner in live. An
// entry whose session is on a server that does not answer stays
// unchecked, so it is kept.
func (s *Store) checkEntries(ctx context.Context, owner string, idx *ownerIndex, checked map[[32]byte]bool, live map[[32]byte]int64, want func(indexEntry) bool) error {
	var keys []string
	for _, e := range idx.entries {
		if !checked[e.key] && want(e) {
			keys = append(keys, s.prefix+hex.EncodeToString(e.key[:]))
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	items, err := s.readMulti(keys)
	down := map[string]bool{}
	if err != nil {
		if !errors.Is(unavailable(err), httpsession.ErrUnavailable) || items == nil {
			return failed("read the owner's sessions", err)
		}
		// A server did not answer. GetMulti does not say which keys were
		// its, so read those it did not return one by one.
		for _, mkey := range keys {
			if items[mkey] != nil {
				continue
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			switch it, err := s.client.Get(mkey); {
			case err == nil:
				items[mkey] = it
			case !errors.Is(err, memcache.ErrCacheMiss):
				down[mkey] = true
			}
		}
	}
	now := time.Now()
	for _, mkey := range keys {
		if down[mkey] {
			continue
		}
		k := keyBytes(mkey[len(s.prefix):])
		checked[k] = true
		if it := items[mkey]; it != nil {
			if h, _, ok := decodeSession(it.Value); ok && h.owner == owner && liveAt(h.expires, now) {
				live[k] = h.expires
			}
		}
	}
	return nil
}

// prune drops the entries that were checked and not found live whose hint
// has passed (with force, whatever their hint), and moves passed hints of
// live ones up to their sessions' Expires, which the index then covers. It
// reports whether idx changed.
func (idx *ownerIndex) prune(checked map[[32]byte]bool, live map[[32]byte]int64, now int64, force bool) bool {
	changed := false
	idx.entries = slices.DeleteFunc(idx.entries, func(e indexEntry) bool {
		_, ok := live[e.key]
		drop := checked[e.key] && !ok && (force || e.hint <= now)
		changed = changed || drop
		return drop
	})
	for i, e := range idx.entries {
		if exp, ok := live[e.key]; ok && e.hint <= now && exp > e.hint {
			idx.entries[i].hint = exp
			idx.cover = max(idx.cover, exp)
			changed = true
		}
	}
	return changed
}

// indexFits reports whether idx fits in an item under ikey.
func (s *Store) indexFits(ikey string, idx *ownerIndex) bool {
	return len(ikey)+idx.encodedLen()+itemOverhead <= s.maxItem
}
