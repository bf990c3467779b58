package memcachestore

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// FuzzDecodeSession feeds arbitrary bytes to the session value decoder, as
// a memcached item that another program wrote might hold. It must never
// panic; a value it accepts must have a non-zero version and encode back to
// the same bytes, but for an owner length written with more bytes than
// needed, which it also reads.
func FuzzDecodeSession(f *testing.F) {
	for _, owner := range []string{"", "ann", strings.Repeat("o", 300)} {
		for _, data := range [][]byte{nil, []byte("data")} {
			v := encodeSession(7, 1700000000123, owner, data)
			f.Add(v)
			f.Add(v[:len(v)-len(data)-1])
		}
	}
	f.Add([]byte{})
	f.Add(encodeSession(0, 0, "", nil))
	f.Add(encodeSession(math.MaxUint64, math.MinInt64, "x", []byte{0}))
	long := encodeSession(1, 0, "", nil)
	f.Add(append(long[:fixedHeaderLen], 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01))
	f.Add(append(long[:fixedHeaderLen], 0x80, 0x00))
	f.Fuzz(func(t *testing.T, v []byte) {
		h, data, ok := decodeSession(v)
		if !ok {
			return
		}
		if h.version == 0 {
			t.Fatal("accepted version 0")
		}
		_, w := binary.Uvarint(v[fixedHeaderLen:])
		if n := fixedHeaderLen + w + len(h.owner) + len(data); n != len(v) {
			t.Fatalf("header, owner and data make %d bytes of %d", n, len(v))
		}
		again := encodeSession(h.version, h.expires, h.owner, data)
		if w == uvarintLen(uint64(len(h.owner))) && !bytes.Equal(again, v) {
			t.Fatalf("decoded %+v, data %x encodes to\n%x\nnot\n%x", h, data, again, v)
		}
		h2, data2, ok := decodeSession(again)
		if !ok || h2 != h || !bytes.Equal(data2, data) {
			t.Fatalf("re-encoded value decodes to %+v, %x, %v; want %+v, %x", h2, data2, ok, h, data)
		}
	})
}

// FuzzDecodeIndex feeds arbitrary bytes to the owner index decoder. It must
// never panic, and an index it accepts must encode back to the same bytes.
func FuzzDecodeIndex(f *testing.F) {
	idx := ownerIndex{cover: 1700000000123}
	f.Add(idx.encode())
	for i := range 3 {
		idx.entries = append(idx.entries, indexEntry{key: [32]byte{byte(i), 1, 2}, hint: int64(i) - 1})
		v := idx.encode()
		f.Add(v)
		f.Add(v[:len(v)-1])
	}
	f.Add([]byte{})
	f.Add([]byte{indexFormat})
	f.Add([]byte{sessionFormat, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, v []byte) {
		idx, ok := decodeIndex(v)
		if !ok {
			return
		}
		if len(idx.entries) != (len(v)-indexHeaderLen)/entryLen || idx.encodedLen() != len(v) {
			t.Fatalf("%d entries from %d bytes", len(idx.entries), len(v))
		}
		if again := idx.encode(); !bytes.Equal(again, v) {
			t.Fatalf("decoded index encodes to\n%x\nnot\n%x", again, v)
		}
	})
}
