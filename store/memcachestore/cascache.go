package memcachestore

import (
	"hash/maphash"
	"sync"
	"time"
)

// DefaultCASCacheSize is the default Options.CASCacheSize.
const DefaultCASCacheSize = 4096

const (
	// casShards is the most shards of the CAS cache, each with a mutex of
	// its own.
	casShards = 16
	// casMaxAge is how long a CAS id that Get read is used by Put. Put
	// reads again (gets) with an older one. memcached's CAS ids count up
	// from 1 again when a server restarts, so an old id could match a
	// record written since under the same key; the store also forgets
	// every id when it sees a broken connection, the mark of a restart.
	// The Manager's Put follows its Get within one request.
	casMaxAge = 2 * time.Second
)

// casEntry is what Get saw of a live session item: memcached's CAS id and
// flags, and the header inside the value.
type casEntry struct {
	casid   uint64
	flags   uint32
	version uint64
	expires int64 // Unix ms
	owner   string
	at      time.Time // when Get read it (monotonic)
}

// usable reports whether e can replace a gets for a Put of version at
// now: same version, read less than casMaxAge ago, and still live.
func (e *casEntry) usable(version uint64, now time.Time) bool {
	return e.version == version && now.Sub(e.at) < casMaxAge && liveAt(e.expires, now)
}

// casCache keeps the CAS ids of the sessions Get read last, so that a Put
// of the version read can send cas at once instead of gets and cas. It is
// bounded: each shard holds a fixed number of entries and drops one at
// random when full. Put takes an entry out (an id is good for one cas at
// most), every other write drops it, and Get puts it back. A nil
// *casCache is off: it keeps nothing.
type casCache struct {
	seed   maphash.Seed
	per    int // entries per shard
	shards []casShard
}

type casShard struct {
	mu sync.Mutex
	m  map[string]casEntry
}

// newCASCache returns a cache of about size entries (DefaultCASCacheSize
// for 0), or nil (off) for a negative size.
func newCASCache(size int) *casCache {
	if size < 0 {
		return nil
	}
	if size == 0 {
		size = DefaultCASCacheSize
	}
	n := casShards
	for n > 1 && n > size {
		n /= 2
	}
	c := &casCache{seed: maphash.MakeSeed(), per: (size + n - 1) / n, shards: make([]casShard, n)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]casEntry)
	}
	return c
}

func (c *casCache) shard(key string) *casShard {
	return &c.shards[maphash.String(c.seed, key)%uint64(len(c.shards))]
}

// put keeps e under key, dropping another entry of the shard if it is
// full.
func (c *casCache) put(key string, e casEntry) {
	if c == nil {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	if _, ok := sh.m[key]; !ok && len(sh.m) >= c.per {
		for k := range sh.m { // map order is random: a random victim
			delete(sh.m, k)
			break
		}
	}
	sh.m[key] = e
	sh.mu.Unlock()
}

// take removes the entry under key and returns it, so that no two Puts
// ever send the same CAS id.
func (c *casCache) take(key string) (casEntry, bool) {
	if c == nil {
		return casEntry{}, false
	}
	sh := c.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[key]
	if ok {
		delete(sh.m, key)
	}
	sh.mu.Unlock()
	return e, ok
}

// drop removes the entry under key, if any.
func (c *casCache) drop(key string) {
	if c == nil {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	delete(sh.m, key)
	sh.mu.Unlock()
}

// reset removes every entry.
func (c *casCache) reset() {
	if c == nil {
		return
	}
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// count returns the number of entries.
func (c *casCache) count() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
