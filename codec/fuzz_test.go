package codec_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/httpsession/httpsession/codec"
)

func FuzzGobDecode(f *testing.F)  { fuzzDecode(f, codec.Gob{}) }
func FuzzJSONDecode(f *testing.F) { fuzzDecode(f, codec.JSON{}) }
func FuzzCBORDecode(f *testing.F) { fuzzDecode(f, codec.CBOR{}) }

// fuzzDecode checks that Decode never panics, keeps its promise of a
// non-nil Values, and that whatever it accepts encodes again; a codec that
// also decodes lazily accepts exactly the same records that way, with the
// same keys, each of which decodes. Seeds are
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
		if ld, ok := c.(codec.LazyDecoder); ok {
			var lazy codec.State
			errLazy := ld.DecodeLazy(bytes.Clone(data), &lazy)
			if (err == nil) != (errLazy == nil) {
				t.Fatalf("Decode: %v, but DecodeLazy: %v", err, errLazy)
			}
			if err == nil {
				checkLazy(t, &lazy, &st)
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

// checkLazy checks a lazily decoded state against the same record decoded
// whole: the same keys, each value there, and an encoding that decodes to
// as many values.
func checkLazy(t *testing.T, lazy, whole *codec.State) {
	t.Helper()
	if got, want := lazy.Keys(), whole.Keys(); !slices.Equal(got, want) {
		t.Fatalf("lazily decoded keys %q, want %q", got, want)
	}
	for _, k := range whole.Keys() {
		if _, ok := lazy.Value(k); !ok {
			t.Fatalf("no lazily decoded value under %q", k)
		}
	}
	data, err := codec.Gob{}.Encode(lazy)
	if err != nil {
		t.Fatalf("a lazily decoded state does not encode again: %v", err)
	}
	var again codec.State
	if err := (codec.Gob{}).Decode(data, &again); err != nil || len(again.Values) != len(whole.Values) {
		t.Fatalf("re-encoded lazy state decodes to %d values, %v; want %d", len(again.Values), err, len(whole.Values))
	}
}
