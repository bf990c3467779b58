package memcachestore

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"time"
)

// A session item's value, format 1. Integers are big-endian.
//
//	offset  size  field
//	0       1     format byte 'S'
//	1       8     record version
//	9       8     expires, Unix milliseconds (signed), rounded up
//	17      1-10  owner length (uvarint)
//	...           owner, then data
const (
	sessionFormat  = 'S'
	expiresOffset  = 9
	fixedHeaderLen = 17
)

// An owner index item's value, format 1. Integers are big-endian.
//
//	offset  size  field
//	0       1     format byte 'O'
//	1       8     cover: Unix ms until which memcached keeps the item
//	9       40·n  entries: 32-byte key (the session key, hex-decoded),
//	              8-byte hint (the latest Expires written for it, Unix ms)
const (
	indexFormat    = 'O'
	indexHeaderLen = 9
	entryLen       = 40
)

// itemOverhead is what memcached 1.6 adds to a key and a value to make an
// item on a 64-bit server: a 48-byte item header, the 8-byte CAS id, the
// key's terminating NUL and the value's CRLF. With flags 0, an item of key
// k and value v fits under memcached -I n exactly when
// len(k)+len(v)+itemOverhead <= n (measured on memcached 1.6.18).
const itemOverhead = 59

// maxRelativeTTL is the largest expiration that memcached reads as seconds
// from now; a larger one is a Unix time (memcached's REALTIME_MAXDELTA,
// 30 days).
const maxRelativeTTL = 60 * 60 * 24 * 30

// expiration returns the memcached expiration of an item that must stay
// until expires, as seen at now: -1 (already expired) for a time not after
// now; seconds from now up to 30 days; beyond that, a Unix time.
//
// Seconds from now are rounded up and one is added: memcached's clock
// ticks once a second and stands up to a second behind when the item is
// stored, so a TTL of n seconds can end up to a second early. The item thus
// outlives expires by up to two seconds; the expiry in the value decides
// when the record ends. A Unix time is compared with memcached's own wall
// clock, so it is only as exact as the clocks agree. A time past 2038,
// which gomemcache's int32 cannot carry, becomes 0: no memcached expiry.
func expiration(expires, now time.Time) int32 {
	d := expires.Sub(now)
	if d <= 0 {
		return -1
	}
	if d <= (maxRelativeTTL-1)*time.Second {
		return int32((d+time.Second-1)/time.Second) + 1
	}
	unix := expires.Unix()
	if expires.Nanosecond() != 0 {
		unix++
	}
	if unix > math.MaxInt32 {
		return 0
	}
	return int32(unix)
}

// unixMilliCeil is t in Unix milliseconds, rounded up, so that a record
// never ends before its Expires.
func unixMilliCeil(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Nanosecond()%int(time.Millisecond) != 0 {
		ms++
	}
	return ms
}

// liveAt reports whether a record with expires (Unix ms) is live at now.
func liveAt(expires int64, now time.Time) bool {
	return now.Before(time.UnixMilli(expires))
}

// sessionHeader is the decoded header of a session item.
type sessionHeader struct {
	version uint64
	expires int64 // Unix ms
	owner   string
}

// sessionLen is the length of the value encodeSession makes.
func sessionLen(owner string, dataLen int) int {
	return fixedHeaderLen + uvarintLen(uint64(len(owner))) + len(owner) + dataLen
}

func encodeSession(version uint64, expires int64, owner string, data []byte) []byte {
	b := make([]byte, 0, sessionLen(owner, len(data)))
	b = append(b, sessionFormat)
	b = binary.BigEndian.AppendUint64(b, version)
	b = binary.BigEndian.AppendUint64(b, uint64(expires))
	b = binary.AppendUvarint(b, uint64(len(owner)))
	b = append(b, owner...)
	return append(b, data...)
}

// decodeSession splits a session item's value into header and data. The
// data aliases v. ok is false for a value this package did not write.
func decodeSession(v []byte) (h sessionHeader, data []byte, ok bool) {
	if len(v) < fixedHeaderLen+1 || v[0] != sessionFormat {
		return h, nil, false
	}
	h.version = binary.BigEndian.Uint64(v[1:])
	h.expires = int64(binary.BigEndian.Uint64(v[expiresOffset:]))
	n, w := binary.Uvarint(v[fixedHeaderLen:])
	rest := v[fixedHeaderLen+max(w, 0):]
	if w <= 0 || n > uint64(len(rest)) || h.version == 0 {
		return h, nil, false
	}
	h.owner = string(rest[:n])
	return h, rest[n:], true
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// ownerIndex is the decoded value of an owner index item.
type ownerIndex struct {
	cover   int64 // Unix ms
	entries []indexEntry
}

type indexEntry struct {
	key  [32]byte
	hint int64 // Unix ms
}

func decodeIndex(v []byte) (ownerIndex, bool) {
	if len(v) < indexHeaderLen || v[0] != indexFormat || (len(v)-indexHeaderLen)%entryLen != 0 {
		return ownerIndex{}, false
	}
	idx := ownerIndex{cover: int64(binary.BigEndian.Uint64(v[1:]))}
	idx.entries = make([]indexEntry, 0, (len(v)-indexHeaderLen)/entryLen)
	for b := v[indexHeaderLen:]; len(b) > 0; b = b[entryLen:] {
		var e indexEntry
		copy(e.key[:], b)
		e.hint = int64(binary.BigEndian.Uint64(b[32:]))
		idx.entries = append(idx.entries, e)
	}
	return idx, true
}

func (idx *ownerIndex) encodedLen() int { return indexHeaderLen + entryLen*len(idx.entries) }

func (idx *ownerIndex) encode() []byte {
	b := make([]byte, 0, idx.encodedLen())
	b = append(b, indexFormat)
	b = binary.BigEndian.AppendUint64(b, uint64(idx.cover))
	for _, e := range idx.entries {
		b = append(b, e.key[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.hint))
	}
	return b
}

func (idx *ownerIndex) find(k [32]byte) int {
	for i, e := range idx.entries {
		if e.key == k {
			return i
		}
	}
	return -1
}

// keyBytes decodes a key that storekey.Valid accepted.
func keyBytes(key string) (k [32]byte) {
	_, _ = hex.Decode(k[:], []byte(key))
	return k
}

// legalKeyPart reports whether s may appear in a memcached key: no spaces,
// no control characters.
func legalKeyPart(s string) bool {
	for i := range len(s) {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}
