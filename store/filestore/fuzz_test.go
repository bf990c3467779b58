package filestore

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

// FuzzDecode feeds arbitrary bytes to the record file decoder: whole, as
// Get reads a file, and the first cut bytes of it to the header decoder,
// as a scan reads headRead bytes. Neither may panic; a file decode accepts
// must encode back to the same bytes (flags aside, which this version
// writes as zero and does not read), and the header decoder must agree
// with it or, short of the owner's end, refuse. Seeds stay small: the
// fuzzer spends seconds minimizing each new input grown from a large one.
func FuzzDecode(f *testing.F) {
	exp := time.Unix(1700000000, 123)
	for _, rec := range []httpsession.Record{
		{},
		{Data: []byte("data"), Expires: exp, Owner: "ann"},
		{Data: bytes.Repeat([]byte{0xff}, 100), Expires: time.Time{}, Owner: "a longer owner than the cut"},
	} {
		file := append(encodeHeader(rec, 42), rec.Data...)
		f.Add(file, uint16(len(file)))
		f.Add(file, uint16(headerSize+len(rec.Owner)-1))
		f.Add(file[:len(file)-1], uint16(headRead))
		f.Add(append(file, 0), uint16(headRead))
		bad := bytes.Clone(file)
		bad[len(bad)-1] ^= 1
		f.Add(bad, uint16(headRead))
		future := bytes.Clone(file)
		binary.BigEndian.PutUint16(future[4:], formatVersion+1)
		f.Add(future, uint16(headRead))
	}
	f.Add([]byte{}, uint16(0))
	f.Add([]byte(magic), uint16(headRead))
	f.Add(bytes.Repeat([]byte{0xff}, headerSize), uint16(headRead))
	f.Fuzz(func(t *testing.T, file []byte, cut uint16) {
		head := file[:min(len(file), int(cut))]
		hrec, dataLen, herr := decodeHeader(head, int64(len(file)))
		rec, err := decode(file)
		if err != nil {
			if err != errCorrupt && err != errFutureFormat {
				t.Fatalf("decode: unexpected error %v", err)
			}
			if herr == nil && err != errCorrupt {
				t.Fatalf("header decodes but the whole file fails with %v", err)
			}
			return
		}
		switch {
		case herr == errCorrupt && len(head) < headerSize+len(rec.Owner):
			// loadHeader then reads the whole file.
		case herr != nil:
			t.Fatalf("decode accepts what decodeHeader of %d bytes refuses: %v", len(head), herr)
		case hrec.Version != rec.Version || !hrec.Expires.Equal(rec.Expires) || hrec.Owner != rec.Owner || dataLen != len(rec.Data):
			t.Fatalf("decodeHeader %+v (data %d) disagrees with decode %+v", hrec, dataLen, rec)
		}
		again := append(encodeHeader(rec, rec.Version), rec.Data...)
		want := bytes.Clone(file)
		if !bytes.Equal(want[6:8], []byte{0, 0}) {
			// Non-zero flags pass: the header checksum covers them, but
			// nothing reads them. Compare the rest.
			copy(want[6:8], again[6:8])
			copy(want[36:40], again[36:40])
		}
		if !bytes.Equal(again, want) {
			t.Fatalf("decoded record %+v encodes to\n%x\nnot\n%x", rec, again, file)
		}
	})
}
