package codec_test

import (
	"bytes"
	"testing"

	"github.com/httpsession/httpsession/codec"
)

func FuzzGobDecode(f *testing.F)  { fuzzDecode(f, codec.Gob{}) }
func FuzzJSONDecode(f *testing.F) { fuzzDecode(f, codec.JSON{}) }
func FuzzCBORDecode(f *testing.F) { fuzzDecode(f, codec.CBOR{}) }

// fuzzDecode checks that Decode never panics, keeps its promise of a
// non-nil Values, and that whatever it accepts encodes again; a codec that
// also decodes in place accepts exactly the same records that way. Seeds are
// every codec's encodings of the test states (the other codecs' output is
// garbage of a realistic shape) plus plain garbage.
func fuzzDecode(f *testing.F, c codec.Codec) {
	seeds := []codec.State{fullState(), {}}
	for _, st := range benchStates() {
		seeds = append(seeds, *st)
	}
	for _, other := range allCodecs {
		for _, st := range seeds {
			data, err := other.c.Encode(&st)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte{})
	f.Add([]byte("not a session"))
	f.Add([]byte{0xff, 0x00, 0x81, 0xa1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var st codec.State
		err := c.Decode(data, &st)
		if od, ok := c.(codec.OwnedDecoder); ok {
			var owned codec.State
			errOwned := od.DecodeOwned(bytes.Clone(data), &owned)
			if (err == nil) != (errOwned == nil) {
				t.Fatalf("Decode: %v, but DecodeOwned: %v", err, errOwned)
			}
			if err == nil && len(owned.Values) != len(st.Values) {
				t.Fatalf("DecodeOwned gave %d values, Decode %d", len(owned.Values), len(st.Values))
			}
		}
		if err != nil {
			return
		}
		if st.Values == nil {
			t.Fatal("Decode succeeded with nil Values")
		}
		if _, err := c.Encode(&st); err != nil {
			t.Fatalf("decoded state does not encode again: %v\nstate: %#v", err, st)
		}
	})
}
