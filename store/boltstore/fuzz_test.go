package boltstore

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// FuzzDecode feeds arbitrary bytes to the record value decoder. It must
// never panic, and a value it accepts must encode back to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, m := range []meta{
		{},
		{version: 1, owner: "ann", expires: 1700000000123456789},
		{version: math.MaxUint64, owner: strings.Repeat("o", 40), expires: math.MinInt64},
	} {
		for _, data := range [][]byte{nil, []byte("data"), bytes.Repeat([]byte{0xff}, 300)} {
			v := encode(m, data)
			f.Add(v)
			f.Add(v[:valueHeader+len(m.owner)-1])
		}
	}
	f.Add([]byte{})
	f.Add([]byte{formatVersion + 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add(append([]byte{formatVersion}, bytes.Repeat([]byte{0xff}, valueHeader)...))
	f.Fuzz(func(t *testing.T, v []byte) {
		m, data, ok := decode(v)
		if !ok {
			return
		}
		if len(m.owner) > math.MaxUint16 {
			t.Fatalf("owner of %d bytes", len(m.owner))
		}
		if again := encode(m, data); !bytes.Equal(again, v) {
			t.Fatalf("decoded %+v, data %x encodes to\n%x\nnot\n%x", m, data, again, v)
		}
	})
}
