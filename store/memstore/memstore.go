// Package memstore is an in-process httpsession store.
//
// Records live in the program's memory, bounded by a number of entries and
// a number of bytes. Over either bound, expired records go first, then the
// least recently used record without an owner; a record with an owner (a
// logged-in user) goes only to make room for another record with an owner.
// When only owned records are left, a new record without an owner is
// refused with ErrFull, which wraps httpsession.ErrUnavailable, so a flood
// of anonymous visitors cannot log users out.
//
// The store is fast and needs no server, but it serves one process only
// and is not durable: every session is lost when the program restarts. Use
// it for tests, development and single-instance programs where a restart
// may log users out.
package memstore

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
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
	// CleanupInterval, when positive, starts a goroutine that removes
	// expired records that often. The default value is 0: no goroutine,
	// because the store is a httpsession.Cleaner and the Manager's janitor
	// sweeps it; set it only for a store used without a Manager, or there
	// are two sweepers. Expired records are never returned either way, and
	// they are the first to go when the store is full.
	CleanupInterval time.Duration
	// Now returns the current time; tests set it to move time without
	// sleeping. The default is time.Now.
	Now func() time.Time
}

// Defaults for zero Options fields.
const (
	defaultMaxEntries = 100_000
	defaultMaxBytes   = 256 << 20
)

// sweepBatch bounds the records removed under one hold of the lock, so
// that a sweep of a million expired records stalls a request for tens of
// microseconds at most (a removal touches a few cache lines: the slot, its
// list neighbours, the key index).
const sweepBatch = 64

// ErrFull is what Put returns, wrapped, when the store is at its bounds,
// the record to write has no owner, and only records with an owner could
// make room. It wraps httpsession.ErrUnavailable, so the Manager's default
// ErrorHandler answers 503.
var ErrFull = fmt.Errorf("memstore: full of sessions with an owner: %w", httpsession.ErrUnavailable)

// Store is an in-process store. It implements httpsession.Store, Toucher,
// Lister, Cleaner and OwnerIndex, and is safe for concurrent use.
//
// Records sit in a slab of fixed-size pages addressed by int32, their data
// in an arena of pointer-free chunks, and the index from key to slot holds
// no pointers for the Manager's keys (64 lowercase hex characters, kept as
// 32 bytes): the garbage collector has no pointer to follow per record, so
// a million sessions cost it about what a thousand do. Two intrusive
// least-recently-used lists (records with and without an owner) and
// one-second expiry buckets link slots by index. Memory that held records
// that went is reused for new ones, not given back (see arena).
type Store struct {
	maxEntries int
	maxBytes   int64
	now        func() time.Time

	mu        sync.Mutex
	pages     [][]slot
	free      int32 // first free slot, linked through lru.next; none: nilSlot
	hexKeys   map[[32]byte]int32
	strKeys   map[string]int32 // keys that are not 64 lowercase hex characters
	strOf     map[int32]string // and the other way
	anon      lruList          // records without an owner
	owned     lruList          // records with an owner
	owners    map[string]int32 // owner → 1 + its entry in ownerTab
	ownerTab  []ownerEntry
	ownerFree int32 // first free entry of ownerTab, as 1 + index (0: none); linked through nextFree
	arena     arena
	big       map[int32][]byte // data of records over maxClassSize, by slot
	expiry    expiryIndex
	bytes     int64
	version   uint64 // last version issued

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// slot is one record. A slot whose inUse is false is on the free list.
// It holds no pointers, so the garbage collector does not scan the slab:
// the data is in the arena (or big), the owner in ownerTab, a key that is
// not hex in strOf.
type slot struct {
	hexKey   [32]byte // the key, decoded, when it is hex
	expires  int64    // Unix nanoseconds
	version  uint64
	blk      blockRef // the data's block, for a class of the arena
	lru      links    // in anon or owned
	exp      links    // in its expiry bucket
	dataLen  int32
	keyLen   int32
	owner    int32 // 1 + its owner's entry in ownerTab; 0: no owner
	ownerLen int32
	class    uint8 // the data's class in the arena, or noData or bigData
	inUse    bool
	isHex    bool
}

// Classes of data that are not in the arena.
const (
	noData  uint8 = 255 // empty
	bigData uint8 = 254 // in Store.big
)

// ownerEntry is an owner and the slots of its records.
type ownerEntry struct {
	name     string
	slots    map[int32]struct{}
	nextFree int32 // in a free entry: the next free one, as 1 + index; 0 ends the list
}

func (sl *slot) size() int64 { return int64(sl.keyLen) + int64(sl.dataLen) + int64(sl.ownerLen) }

// keyOf returns the key of slot i. s.mu must be held.
func (s *Store) keyOf(i int32) string {
	if sl := s.slot(i); sl.isHex {
		return hexString(&sl.hexKey)
	}
	return s.strOf[i]
}

// ownerOf returns the owner of slot sl, "" if none. s.mu must be held.
func (s *Store) ownerOf(sl *slot) string {
	if sl.owner == 0 {
		return ""
	}
	return s.ownerTab[sl.owner-1].name
}

// dataOf returns the data of slot i, not a copy. s.mu must be held.
func (s *Store) dataOf(i int32) []byte {
	switch sl := s.slot(i); sl.class {
	case noData:
		return nil
	case bigData:
		return s.big[i]
	default:
		return s.arena.bytes(sl.blk, sl.dataLen)
	}
}

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

// New returns an empty store. It starts a goroutine only when
// opts.CleanupInterval is positive.
func New(opts Options) *Store {
	s := &Store{
		maxEntries: opts.MaxEntries,
		maxBytes:   opts.MaxBytes,
		now:        opts.Now,
		free:       nilSlot,
		hexKeys:    map[[32]byte]int32{},
		strKeys:    map[string]int32{},
		strOf:      map[int32]string{},
		anon:       newLRUList(),
		owned:      newLRUList(),
		owners:     map[string]int32{},
		arena:      newArena(),
		big:        map[int32][]byte{},
		expiry:     expiryIndex{buckets: map[int64]*bucket{}},
		done:       make(chan struct{}),
		stop:       make(chan struct{}),
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
	if opts.CleanupInterval <= 0 {
		close(s.done)
		return s
	}
	go s.janitor(opts.CleanupInterval)
	return s
}

func (s *Store) janitor(interval time.Duration) {
	defer close(s.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	for {
		select {
		case <-s.stop:
			return
		case <-tick.C:
			_, _ = s.DeleteExpired(ctx, 0) // fails only when Close cancels it
		}
	}
}

// Close stops the cleanup goroutine, if there is one, and waits for it to
// end. The store stays usable. Close may be called more than once and
// always returns nil.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

// Len reports the number of records held, live or expired but not yet
// removed.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.anon.n + s.owned.n
}

// Get returns a copy of the live record under key and marks it as
// recently used.
func (s *Store) Get(ctx context.Context, key string) (httpsession.Record, error) {
	if err := ctx.Err(); err != nil {
		return httpsession.Record{}, err
	}
	now := unixNano(s.now())
	k := toIndexKey(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.live(&k, now)
	if i == nilSlot {
		return httpsession.Record{}, fmt.Errorf("memstore: get: %w", httpsession.ErrNotFound)
	}
	sl := s.slot(i)
	s.listOf(sl).moveToFront(s, i)
	return s.record(i), nil
}

// Put stores a copy of rec under key if rec.Version is the live record's
// version, or 0 and there is no live record. A record whose Expires is
// past is not kept. Putting may remove expired records and evict the least
// recently used ones (see the package documentation); a record without an
// owner that could be stored only by evicting records with an owner is
// refused with an error wrapping ErrFull.
func (s *Store) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	size := recordSize(key, rec)
	if size > s.maxBytes {
		return 0, fmt.Errorf("memstore: put: record of %d bytes, MaxBytes is %d: %w", size, s.maxBytes, httpsession.ErrTooLarge)
	}
	now := s.now()
	nowNano := unixNano(now)
	// A large record is copied before the lock is taken; a small one under
	// it, into the arena (setData).
	data := rec.Data
	large := len(rec.Data) > maxClassSize
	if large {
		data = bytes.Clone(rec.Data)
	}
	k := toIndexKey(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.live(&k, nowNano)
	var current uint64
	if i != nilSlot {
		current = s.slot(i).version
	}
	if rec.Version != current {
		if current == 0 {
			return 0, fmt.Errorf("memstore: put: version %d, record is gone: %w", rec.Version, httpsession.ErrConflict)
		}
		return 0, fmt.Errorf("memstore: put: version %d, stored %d: %w", rec.Version, current, httpsession.ErrConflict)
	}
	if !now.Before(rec.Expires) {
		s.version++
		if i != nilSlot {
			s.remove(i)
		}
		return s.version, nil
	}
	addEntries, addBytes := 1, size
	if i != nilSlot {
		addEntries, addBytes = 0, size-s.slot(i).size()
	}
	if err := s.makeRoom(i, rec.Owner != "", addEntries, addBytes, nowNano); err != nil {
		return 0, err
	}
	s.version++
	fresh := i == nilSlot
	if fresh {
		i = s.insert(&k)
	}
	s.write(i, fresh, data, rec.Owner, unixNano(rec.Expires), s.version)
	s.evict(i)
	return s.version, nil
}

// record returns a copy of slot i's record. s.mu must be held.
func (s *Store) record(i int32) httpsession.Record {
	sl := s.slot(i)
	return httpsession.Record{
		Data:    bytes.Clone(s.dataOf(i)),
		Expires: time.Unix(0, sl.expires),
		Version: sl.version,
		Owner:   s.ownerOf(sl),
	}
}

// setData makes data slot i's record data: in the arena block the slot
// holds when data is of the same class, else in a new one. Data over
// maxClassSize is kept as it is: Put copied it before taking the lock. No
// one else ever sees the stored bytes: Get and List hand out copies. s.mu
// must be held.
func (s *Store) setData(i int32, data []byte) {
	sl := s.slot(i)
	c := noData
	switch {
	case len(data) > maxClassSize:
		c = bigData
	case len(data) > 0:
		c = classOf(len(data))
	}
	if c != sl.class || c == bigData {
		s.freeData(i)
		switch c {
		case bigData:
			s.big[i] = data
		case noData:
		default:
			sl.blk = s.arena.alloc(c)
		}
		sl.class = c
	}
	sl.dataLen = int32(len(data))
	if c < numClasses {
		copy(s.arena.bytes(sl.blk, sl.dataLen), data)
	}
}

// freeData drops slot i's data. s.mu must be held.
func (s *Store) freeData(i int32) {
	sl := s.slot(i)
	switch sl.class {
	case noData:
	case bigData:
		delete(s.big, i)
	default:
		s.arena.release(sl.class, sl.blk)
	}
	sl.class, sl.dataLen, sl.blk = noData, 0, blockRef{}
}

// makeRoom removes expired records while the store would be over a bound
// after adding addEntries records and addBytes bytes, and then checks that
// evicting records other than slot i, without an owner unless owned, can
// bring it within them. It evicts nothing live. s.mu must be held.
func (s *Store) makeRoom(i int32, owned bool, addEntries int, addBytes, now int64) error {
	over := func(entries int, bytes int64) bool {
		return entries+addEntries > s.maxEntries || bytes+addBytes > s.maxBytes
	}
	for over(s.anon.n+s.owned.n, s.bytes) {
		if s.sweep(now, 16) == 0 {
			break
		}
	}
	if owned || !over(s.anon.n+s.owned.n, s.bytes) {
		return nil
	}
	// Only the records without an owner may go, and not slot i itself.
	entries, held := s.owned.n, s.owned.bytes
	if i != nilSlot && s.slot(i).owner == 0 {
		entries++
		held += s.slot(i).size()
	}
	if over(entries, held) {
		return fmt.Errorf("memstore: put: %d records of %d bytes held (MaxEntries %d, MaxBytes %d) and every one that could go has an owner: %w",
			s.anon.n+s.owned.n, s.bytes, s.maxEntries, s.maxBytes, ErrFull)
	}
	return nil
}

// evict removes least recently used records, those without an owner
// first, until the store is within its bounds. Slot i, just written, is at
// the front of its list and fits alone, so it is never the one evicted;
// makeRoom has checked that a record without an owner displaces none with
// one. s.mu must be held.
func (s *Store) evict(i int32) {
	for s.anon.n+s.owned.n > s.maxEntries || s.bytes > s.maxBytes {
		victim := s.anon.tail
		if victim == nilSlot || victim == i {
			victim = s.owned.tail
		}
		if victim == nilSlot || victim == i {
			return // cannot happen: see makeRoom
		}
		s.remove(victim)
	}
}

// Delete removes the record under key.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := s.lookup(key); i != nilSlot {
		s.remove(i)
	}
	return nil
}

// Touch sets the Expires of the live record under key, leaving its Data,
// Owner and Version as they are, and marks it as recently used.
func (s *Store) Touch(ctx context.Context, key string, expires time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.now()
	k := toIndexKey(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	i := s.live(&k, unixNano(now))
	if i == nilSlot {
		return fmt.Errorf("memstore: touch: %w", httpsession.ErrNotFound)
	}
	if !now.Before(expires) {
		s.remove(i)
		return nil
	}
	sl := s.slot(i)
	s.expiry.move(s, i, sl.expires, unixNano(expires))
	sl.expires = unixNano(expires)
	s.listOf(sl).moveToFront(s, i)
	return nil
}

// List calls fn with a copy of each live record until fn returns false.
// It holds no lock while fn runs, so fn may use the store. Records put
// while List runs may or may not be seen; records deleted before they are
// reached are not. List does not change which records count as recently
// used.
func (s *Store) List(ctx context.Context, fn func(key string, rec httpsession.Record) bool) error {
	s.mu.Lock()
	keys := make([]string, 0, s.anon.n+s.owned.n)
	for _, l := range []*lruList{&s.owned, &s.anon} {
		for i := l.head; i != nilSlot; i = s.slot(i).lru.next {
			keys = append(keys, s.keyOf(i))
		}
	}
	s.mu.Unlock()
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		ik := toIndexKey(k)
		s.mu.Lock()
		i := s.live(&ik, unixNano(s.now()))
		var rec httpsession.Record
		if i != nilSlot {
			rec = s.record(i)
		}
		s.mu.Unlock()
		if i != nilSlot && !fn(k, rec) {
			return nil
		}
	}
	return nil
}

// DeleteExpired removes up to limit expired records, or all of them when
// limit is 0 or less, and reports how many it removed. It holds the lock
// for at most 64 removals at a time, yields every 512, and its cost is in
// proportion to the records it removes, not to those held.
func (s *Store) DeleteExpired(ctx context.Context, limit int) (int, error) {
	n, batches := 0, 0
	for limit <= 0 || n < limit {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		batch := sweepBatch
		if limit > 0 {
			batch = min(batch, limit-n)
		}
		now := unixNano(s.now())
		s.mu.Lock()
		m := s.sweep(now, batch)
		s.mu.Unlock()
		n += m
		if m < batch {
			break
		}
		// Unlock readied a request waiting for the lock but left this
		// goroutine running, to take the lock again before the request
		// runs; every 512 removals, let it run. (Every 64 made a pass of a
		// million removals 15 times slower: each yield costs a wake-up.)
		if batches++; batches%8 == 0 {
			runtime.Gosched()
		}
	}
	return n, nil
}

// OwnerKeys returns the keys of owner's live records, sorted.
func (s *Store) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := unixNano(s.now())
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	if id := s.owners[owner]; id != 0 {
		for i := range s.ownerTab[id-1].slots {
			if now < s.slot(i).expires {
				keys = append(keys, s.keyOf(i))
			}
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// nilSlot is the int32 that means "no slot".
const nilSlot int32 = -1

// pageBits sets the slab's page size: 4,096 slots. Pages are never moved,
// so growing the slab never copies records under the lock.
const (
	pageBits = 12
	pageSize = 1 << pageBits
)

func (s *Store) slot(i int32) *slot { return &s.pages[i>>pageBits][i&(pageSize-1)] }

// indexKey is a key as the index holds it: 32 bytes for the Manager's
// keys (64 lowercase hex characters), else the string. Methods parse it
// once, before they take the lock.
type indexKey struct {
	str   string
	hex   [32]byte
	isHex bool
}

func toIndexKey(key string) indexKey {
	hk, ok := parseHex(key)
	return indexKey{str: key, hex: hk, isHex: ok}
}

// lookup returns the slot of key, live or not, or nilSlot. s.mu must be
// held.
func (s *Store) lookup(key string) int32 {
	k := toIndexKey(key)
	return s.find(&k)
}

// find is lookup of a parsed key. s.mu must be held.
func (s *Store) find(k *indexKey) int32 {
	if k.isHex {
		if i, ok := s.hexKeys[k.hex]; ok {
			return i
		}
		return nilSlot
	}
	if i, ok := s.strKeys[k.str]; ok {
		return i
	}
	return nilSlot
}

// live returns the slot of the live record under k, or nilSlot. An
// expired record it finds is removed. s.mu must be held.
func (s *Store) live(k *indexKey, now int64) int32 {
	i := s.find(k)
	if i == nilSlot {
		return nilSlot
	}
	if now >= s.slot(i).expires {
		s.remove(i)
		return nilSlot
	}
	return i
}

// insert takes a free slot for key and indexes it; write fills it. s.mu
// must be held.
func (s *Store) insert(k *indexKey) int32 {
	if s.free == nilSlot {
		s.grow()
	}
	i := s.free
	sl := s.slot(i)
	s.free = sl.lru.next
	*sl = slot{inUse: true, keyLen: int32(len(k.str)), class: noData, lru: links{nilSlot, nilSlot}, exp: links{nilSlot, nilSlot}}
	if k.isHex {
		sl.hexKey, sl.isHex = k.hex, true
		s.hexKeys[k.hex] = i
	} else {
		s.strKeys[k.str] = i
		s.strOf[i] = k.str
	}
	return i
}

// grow adds free slots. The first page starts at 16 slots and doubles, so
// that a small store costs little; after it, whole pages are added, and no
// slot is ever moved once the first page is full. s.mu must be held.
func (s *Store) grow() {
	n := len(s.pages)
	var from, to int
	switch {
	case n == 0:
		s.pages = [][]slot{make([]slot, 16)}
		from, to = 0, 16
	case n == 1 && len(s.pages[0]) < pageSize:
		from, to = len(s.pages[0]), min(2*len(s.pages[0]), pageSize)
		s.pages[0] = append(s.pages[0], make([]slot, to-from)...)
	default:
		if n<<pageBits >= 1<<31-pageSize {
			panic("memstore: more than 2^31 slots") // memory runs out long before
		}
		s.pages = append(s.pages, make([]slot, pageSize))
		from, to = n<<pageBits, (n+1)<<pageBits
	}
	for j := to - 1; j >= from; j-- {
		s.slot(int32(j)).lru.next = s.free
		s.free = int32(j)
	}
}

// write sets slot i's record, moving it to the front of its list, into
// its expiry bucket and its owner's index. A fresh slot, from insert, is
// in none of them yet; data over maxClassSize must be a copy (setData).
// s.mu must be held.
func (s *Store) write(i int32, fresh bool, data []byte, owner string, expires int64, version uint64) {
	sl := s.slot(i)
	placed := !fresh
	if placed {
		s.listOf(sl).unlink(s, i)
		s.expiry.move(s, i, sl.expires, expires)
		s.bytes -= sl.size()
	} else {
		s.expiry.add(s, i, expires)
	}
	if s.ownerOf(sl) != owner {
		s.unindex(i, sl.owner)
		sl.owner, sl.ownerLen = s.index(i, owner), int32(len(owner))
	}
	s.setData(i, data)
	sl.expires, sl.version = expires, version
	s.bytes += sl.size()
	s.listOf(sl).pushFront(s, i)
}

// remove drops slot i from every index and frees it. s.mu must be held.
func (s *Store) remove(i int32) {
	sl := s.slot(i)
	s.listOf(sl).unlink(s, i)
	s.expiry.remove(s, i, sl.expires)
	s.unindex(i, sl.owner)
	if sl.isHex {
		delete(s.hexKeys, sl.hexKey)
	} else {
		delete(s.strKeys, s.strOf[i])
		delete(s.strOf, i)
	}
	s.bytes -= sl.size()
	s.freeData(i)
	*sl = slot{lru: links{nilSlot, s.free}, exp: links{nilSlot, nilSlot}, class: noData}
	s.free = i
}

// index adds slot i to owner's keys and returns the owner's number for
// slot.owner: 1 + its entry in ownerTab, 0 for no owner. s.mu must be
// held.
func (s *Store) index(i int32, owner string) int32 {
	if owner == "" {
		return 0
	}
	id, ok := s.owners[owner]
	if !ok {
		e := ownerEntry{name: owner, slots: map[int32]struct{}{}}
		if id = s.ownerFree; id != 0 {
			s.ownerFree = s.ownerTab[id-1].nextFree
			s.ownerTab[id-1] = e
		} else {
			s.ownerTab = append(s.ownerTab, e)
			id = int32(len(s.ownerTab))
		}
		s.owners[owner] = id
	}
	s.ownerTab[id-1].slots[i] = struct{}{}
	return id
}

// unindex drops slot i from the keys of owner number id (0: none).
// s.mu must be held.
func (s *Store) unindex(i int32, id int32) {
	if id == 0 {
		return
	}
	e := &s.ownerTab[id-1]
	delete(e.slots, i)
	if len(e.slots) == 0 {
		delete(s.owners, e.name)
		// Linked through the entry, so that a sweep that drops many
		// owners allocates nothing under the lock.
		*e = ownerEntry{nextFree: s.ownerFree}
		s.ownerFree = id
	}
}

// sweep removes up to max records expired at now, earliest bucket first,
// and returns how many. Its cost is in proportion to the buckets it
// visits: those wholly expired, and at most one that straddles now. s.mu
// must be held.
func (s *Store) sweep(now int64, max int) int {
	n := 0
	for n < max && len(s.expiry.heap) > 0 {
		b := s.expiry.heap[0]
		if b.start() >= now {
			break // this bucket and every later one is live
		}
		if b.end() <= now {
			// Wholly expired: remove from the head until empty, when
			// remove drops the bucket from the heap.
			for n < max && b.head != nilSlot {
				s.remove(b.head)
				n++
			}
			continue
		}
		// Straddles now: only some records have expired.
		for i := b.head; i != nilSlot && n < max; {
			next := s.slot(i).exp.next
			if s.slot(i).expires <= now {
				s.remove(i)
				n++
			}
			i = next
		}
		break
	}
	return n
}

// listOf returns the LRU list that slot sl belongs in.
func (s *Store) listOf(sl *slot) *lruList {
	if sl.owner != 0 {
		return &s.owned
	}
	return &s.anon
}

// links chain slots by index.
type links struct{ prev, next int32 }

// lruList is a least-recently-used list of slots: head most recent. It
// counts its records and their bytes.
type lruList struct {
	head, tail int32
	n          int
	bytes      int64
}

func newLRUList() lruList { return lruList{head: nilSlot, tail: nilSlot} }

func (l *lruList) pushFront(s *Store, i int32) {
	sl := s.slot(i)
	sl.lru = links{nilSlot, l.head}
	if l.head != nilSlot {
		s.slot(l.head).lru.prev = i
	} else {
		l.tail = i
	}
	l.head = i
	l.n++
	l.bytes += sl.size()
}

func (l *lruList) unlink(s *Store, i int32) {
	sl := s.slot(i)
	if sl.lru.prev != nilSlot {
		s.slot(sl.lru.prev).lru.next = sl.lru.next
	} else {
		l.head = sl.lru.next
	}
	if sl.lru.next != nilSlot {
		s.slot(sl.lru.next).lru.prev = sl.lru.prev
	} else {
		l.tail = sl.lru.prev
	}
	sl.lru = links{nilSlot, nilSlot}
	l.n--
	l.bytes -= sl.size()
}

func (l *lruList) moveToFront(s *Store, i int32) {
	if l.head == i {
		return
	}
	l.unlink(s, i)
	l.pushFront(s, i)
}

// hexString encodes k as 64 lowercase hex characters.
func hexString(k *[32]byte) string {
	const digits = "0123456789abcdef"
	var b [64]byte
	for j, c := range k {
		b[2*j], b[2*j+1] = digits[c>>4], digits[c&15]
	}
	return string(b[:])
}

// parseHex decodes a key of exactly 64 lowercase hex characters, the form
// of the Manager's keys. Other keys are kept as strings, so that hexString
// gives back exactly the key that was put.
func parseHex(key string) ([32]byte, bool) {
	var k [32]byte
	if len(key) != 64 {
		return k, false
	}
	key = key[:64] // one bounds check for the loop
	var bad byte   // an invalid digit is 0xff, which sets the high bits
	for j := range 32 {
		hi, lo := hexVals[key[2*j]], hexVals[key[2*j+1]]
		bad |= hi | lo
		k[j] = hi<<4 | lo
	}
	if bad >= 16 {
		return [32]byte{}, false
	}
	return k, true
}

// hexVals maps each byte to its value as a lowercase hex digit, or 0xff.
var hexVals = func() (t [256]byte) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		default:
			t[c] = 0xff
		}
	}
	return t
}()
