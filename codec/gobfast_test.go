package codec_test

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/httpsession/httpsession/codec"
)

type fastPathPoint struct{ X, Y int }

func init() { gob.Register(fastPathPoint{}) }

// Common values take the tagged form and keep their exact Go types; a
// registered struct anywhere sends the record through encoding/gob, with the
// same result.
func TestGobFormats(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 5, time.FixedZone("X", 3600))
	values := map[string]any{
		"s": "x", "b": true, "i": -3, "i8": int8(-8), "u16": uint16(16), "u64": uint64(1 << 63),
		"f32": float32(1.5), "f64": 2.25, "bytes": []byte{0, 255}, "t": now, "d": time.Minute,
		"strs": []string{"a", ""}, "list": []any{1, "two", []any{3.0}}, "m": map[string]any{"k": map[string]string{"a": "b"}},
	}
	for name, extra := range map[string]any{"tagged": nil, "gob": fastPathPoint{1, 2}} {
		t.Run(name, func(t *testing.T) {
			in := &codec.State{Created: now, Deadline: now.Add(time.Hour), Owner: "ann",
				KeyExpiry: map[string]time.Time{"s": now.Add(time.Minute)}, Values: map[string]any{}}
			for k, v := range values {
				in.Values[k] = v
			}
			if extra != nil {
				in.Values["extra"] = extra
			}
			data, err := codec.Gob{}.Encode(in)
			if err != nil {
				t.Fatal(err)
			}
			if tagged := data[0] == 0xb1; tagged != (extra == nil) {
				t.Fatalf("format byte %#x", data[0])
			}
			var out codec.State
			if err := (codec.Gob{}).Decode(data, &out); err != nil {
				t.Fatal(err)
			}
			for k, want := range in.Values {
				got := out.Values[k]
				if wt, ok := want.(time.Time); ok {
					if gt, ok := got.(time.Time); !ok || !gt.Equal(wt) {
						t.Errorf("%s = %#v, want %#v", k, got, want)
					}
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v (%T), want %#v (%T)", k, got, got, want, want)
				}
			}
			if !out.Created.Equal(in.Created) || out.Owner != "ann" || !out.KeyExpiry["s"].Equal(in.KeyExpiry["s"]) {
				t.Errorf("state fields: %+v", out)
			}
		})
	}
}

// Truncations and flips of a tagged record fail cleanly.
func TestGobTaggedCorrupt(t *testing.T) {
	data, err := codec.Gob{}.Encode(&codec.State{Values: map[string]any{"a": []any{"x", map[string]any{"y": 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(data); i++ {
		var st codec.State
		if err := (codec.Gob{}).Decode(data[:i], &st); err == nil {
			t.Errorf("truncation at %d decoded", i)
		}
	}
	huge := append([]byte{0xb1}, make([]byte, 3)...) // three zero times
	huge = append(huge, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f)
	var st codec.State
	if err := (codec.Gob{}).Decode(huge, &st); err == nil {
		t.Fatal("a count larger than the input decoded")
	}
}

// AppendEncode appends to the caller's buffer exactly what Encode returns,
// in either format, and leaves the bytes before it alone.
func TestGobAppendEncode(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for name, v := range map[string]any{"tagged": "x", "gob": fastPathPoint{1, 2}} {
		t.Run(name, func(t *testing.T) {
			st := &codec.State{Created: now, Deadline: now.Add(time.Hour), Values: map[string]any{"k": v}}
			want, err := codec.Gob{}.Encode(st)
			if err != nil {
				t.Fatal(err)
			}
			prefix := []byte("prefix")
			got, err := codec.Gob{}.AppendEncode(prefix, st)
			if err != nil {
				t.Fatal(err)
			}
			if string(got[:len(prefix)]) != "prefix" || string(got[len(prefix):]) != string(want) {
				t.Fatalf("AppendEncode = %q, want %q after the prefix", got, want)
			}
			var back codec.State
			if err := (codec.Gob{}).Decode(got[len(prefix):], &back); err != nil || !reflect.DeepEqual(back.Values, st.Values) {
				t.Fatalf("decoded %v, %v; want %v", back.Values, err, st.Values)
			}
		})
	}
}

// State.Keys is sorted whatever happened to Values since the keys were
// last in order: decoded, changed directly, re-encoded.
func TestStateKeys(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	st := &codec.State{Created: now, Deadline: now.Add(time.Hour), Values: map[string]any{}}
	var want []string
	for i := range 20 {
		k := fmt.Sprintf("k%02d", 19-i)
		st.Values[k] = i
		want = append([]string{k}, want...)
	}
	check := func(what string, st *codec.State, want []string) {
		t.Helper()
		got := st.Keys()
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: Keys = %q, want %q", what, got, want)
		}
		got[0] = "changed by the caller" // the caller owns the slice
		if again := st.Keys(); !reflect.DeepEqual(again, want) {
			t.Fatalf("%s: Keys after the caller changed its slice = %q", what, again)
		}
	}
	check("fresh", st, want)
	first, err := codec.Gob{}.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	var back codec.State
	if err := (codec.Gob{}).Decode(first, &back); err != nil {
		t.Fatal(err)
	}
	check("decoded", &back, want)
	// Records of the same state in key order are the same bytes.
	again, err := codec.Gob{}.Encode(&back)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(first) {
		t.Fatal("a decoded record encodes to other bytes")
	}
	// The same number of keys, not the same keys.
	delete(back.Values, "k05")
	back.Values["a"] = 1
	check("changed", &back, append([]string{"a"}, slices.DeleteFunc(slices.Clone(want), func(k string) bool { return k == "k05" })...))
	data, err := codec.Gob{}.Encode(&back)
	if err != nil {
		t.Fatal(err)
	}
	var third codec.State
	if err := (codec.Gob{}).Decode(data, &third); err != nil || !reflect.DeepEqual(third.Values, back.Values) {
		t.Fatalf("decoded %v, %v; want %v", third.Values, err, back.Values)
	}
	check("changed and decoded", &third, back.Keys())
}

// DecodeOwned brings back what Decode does, in both formats, with the
// tagged format's strings inside the record itself; Decode's strings are
// the decoder's own, so changing the record afterwards changes nothing.
func TestGobDecodeOwned(t *testing.T) {
	ins := inputs()
	for name, st := range benchStates() {
		ins["bench "+name] = *st
	}
	for _, name := range slices.Sorted(maps.Keys(ins)) {
		in := ins[name]
		t.Run(name, func(t *testing.T) {
			data, err := codec.Gob{}.Encode(&in)
			if err != nil {
				t.Fatal(err)
			}
			var copied, owned codec.State
			if err := (codec.Gob{}).Decode(data, &copied); err != nil {
				t.Fatal(err)
			}
			if err := (codec.Gob{}).DecodeOwned(bytes.Clone(data), &owned); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(owned, copied) {
				t.Fatalf("DecodeOwned = %#v\nDecode = %#v", owned, copied)
			}
		})
	}

	in := codec.State{Owner: "ann", Values: map[string]any{"user": "ann", "list": []any{"x"}, "b": []byte("yz")}}
	data, err := codec.Gob{}.Encode(&in)
	if err != nil {
		t.Fatal(err)
	}
	within := func(p *byte, data []byte) bool {
		at, start := uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(unsafe.SliceData(data)))
		return at >= start && at < start+uintptr(len(data))
	}
	var owned codec.State
	if err := (codec.Gob{}).DecodeOwned(data, &owned); err != nil {
		t.Fatal(err)
	}
	for what, s := range map[string]string{"a key": owned.Keys()[0], "a value": owned.Values["user"].(string), "the owner": owned.Owner} {
		if !within(unsafe.StringData(s), data) {
			t.Errorf("DecodeOwned copied %s (%q) out of the record", what, s)
		}
	}
	if b := owned.Values["b"].([]byte); within(unsafe.SliceData(b), data) {
		t.Error("DecodeOwned returned a byte slice inside the record: the caller may change it")
	}

	var copied codec.State
	if err := (codec.Gob{}).Decode(data, &copied); err != nil {
		t.Fatal(err)
	}
	for i := range data[1:] {
		data[1+i] = 'Z'
	}
	if copied.Values["user"] != "ann" || copied.Owner != "ann" || copied.Values["list"].([]any)[0] != "x" {
		t.Fatalf("changing the record after Decode changed its state: %#v", copied)
	}
}
