package codec_test

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"maps"
	"math/rand/v2"
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

// DecodeLazy brings back what Decode does, in both formats; the tagged
// format's strings stay inside the record itself, while Decode's are the
// decoder's own, so changing the record afterwards changes nothing.
func TestGobDecodeLazy(t *testing.T) {
	ins := inputs()
	for name, st := range benchStates() {
		ins["bench "+name] = *st
	}
	for _, name := range slices.Sorted(maps.Keys(ins)) {
		in := ins[name]
		t.Run(name, func(t *testing.T) {
			whole, lazy := decodeBoth(t, &in)
			if lazy.Len() != len(whole.Values) || !slices.Equal(lazy.Keys(), whole.Keys()) {
				t.Fatalf("DecodeLazy: %d values %q, want %d %q", lazy.Len(), lazy.Keys(), len(whole.Values), whole.Keys())
			}
			back := reencode(t, &lazy)
			lazy.LoadValues()
			if !reflect.DeepEqual(lazy, whole) {
				t.Fatalf("DecodeLazy then LoadValues = %#v\nDecode = %#v", lazy, whole)
			}
			if !reflect.DeepEqual(back.Values, whole.Values) {
				t.Fatalf("a lazy state encoded decodes to %#v; want %#v", back.Values, whole.Values)
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
	var lazy codec.State
	if err := (codec.Gob{}).DecodeLazy(data, &lazy); err != nil {
		t.Fatal(err)
	}
	user, _ := lazy.Value("user")
	for what, s := range map[string]string{"a key": lazy.Keys()[0], "a value": user.(string), "the owner": lazy.Owner} {
		if !within(unsafe.StringData(s), data) {
			t.Errorf("DecodeLazy copied %s (%q) out of the record", what, s)
		}
	}
	if b, _ := lazy.Value("b"); within(unsafe.SliceData(b.([]byte)), data) {
		t.Error("DecodeLazy returned a byte slice inside the record: the caller may change it")
	}

	var whole codec.State
	if err := (codec.Gob{}).Decode(data, &whole); err != nil {
		t.Fatal(err)
	}
	for i := range data[1:] {
		data[1+i] = 'Z'
	}
	if whole.Values["user"] != "ann" || whole.Owner != "ann" || whole.Values["list"].([]any)[0] != "x" {
		t.Fatalf("changing the record after Decode changed its state: %#v", whole)
	}
}

// A lazily decoded state answers every change and question as the same
// record decoded whole does, and encodes to the same values: sets of old
// and new keys (past the point where it gives up inserting), deletes,
// clears, values changed in place after a read.
func TestGobLazyOperations(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		in := codec.State{Values: map[string]any{}}
		for i := range rng.IntN(80) {
			in.Values[fmt.Sprintf("k%03d", rng.IntN(200))] = lazyOpValue(rng, i)
		}
		if rng.IntN(2) == 0 {
			in.Keys() // the next Encode writes the keys in order
		}
		whole, lazy := decodeBoth(t, &in)
		for step := range 60 {
			k := fmt.Sprintf("k%03d", rng.IntN(200))
			what := ""
			switch op := rng.IntN(20); {
			case op < 8:
				what = "get"
			case op < 15:
				v := lazyOpValue(rng, step)
				whole.SetValue(k, v)
				lazy.SetValue(k, v)
				what = "set"
			case op < 18:
				whole.DeleteValue(k)
				lazy.DeleteValue(k)
				what = "delete"
			case op < 19:
				// Byte slices changed in place after a read are saved
				// with the next encoding, as they are for a whole state.
				for _, st := range []*codec.State{&whole, &lazy} {
					for _, k := range st.Keys() {
						if b, _ := st.Value(k); b != nil {
							if b, ok := b.([]byte); ok && len(b) > 0 {
								b[0]++
							}
						}
					}
				}
				what = "change in place"
			default:
				whole.ClearValues()
				lazy.ClearValues()
				what = "clear"
			}
			wv, wok := whole.Value(k)
			lv, lok := lazy.Value(k)
			if wok != lok || !reflect.DeepEqual(wv, lv) || whole.Len() != lazy.Len() || !slices.Equal(whole.Keys(), lazy.Keys()) {
				t.Fatalf("round %d step %d, %s %s: lazy (%v, %v, %d keys %q), whole (%v, %v, %d keys %q)",
					round, step, what, k, lv, lok, lazy.Len(), lazy.Keys(), wv, wok, whole.Len(), whole.Keys())
			}
		}
		wback, lback := reencode(t, &whole), reencode(t, &lazy)
		if !reflect.DeepEqual(wback.Values, lback.Values) {
			t.Fatalf("round %d: the lazy state encoded to %#v, the whole one to %#v", round, lback.Values, wback.Values)
		}
	}
}

// decodeBoth encodes in with Gob and decodes the record whole, and lazily
// from a copy.
func decodeBoth(t *testing.T, in *codec.State) (whole, lazy codec.State) {
	t.Helper()
	data, err := codec.Gob{}.Encode(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := (codec.Gob{}).Decode(data, &whole); err != nil {
		t.Fatal(err)
	}
	if err := (codec.Gob{}).DecodeLazy(bytes.Clone(data), &lazy); err != nil {
		t.Fatal(err)
	}
	return whole, lazy
}

// reencode encodes st with Gob and decodes the record whole.
func reencode(t *testing.T, st *codec.State) codec.State {
	t.Helper()
	data, err := codec.Gob{}.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	var back codec.State
	if err := (codec.Gob{}).Decode(data, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

func lazyOpValue(rng *rand.Rand, i int) any {
	switch rng.IntN(5) {
	case 0:
		return fmt.Sprint("s", i)
	case 1:
		return i
	case 2:
		return []byte{byte(i), 1}
	case 3:
		return []any{"x", i}
	}
	return time.Duration(i)
}

// Of two values under one key in a record, the later one counts, lazily
// decoded or not.
func TestGobLazyDuplicateKeys(t *testing.T) {
	data, err := codec.Gob{}.Encode(&codec.State{Values: map[string]any{"a": "first", "b": "second"}})
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(data, []byte{1, 'b', 1, 6}) // key "b", then a string of 6 bytes
	if at < 0 {
		t.Fatalf("no key b in %q", data)
	}
	data[at+1] = 'a'
	var whole, lazy codec.State
	if err := (codec.Gob{}).Decode(data, &whole); err != nil {
		t.Fatal(err)
	}
	if err := (codec.Gob{}).DecodeLazy(data, &lazy); err != nil {
		t.Fatal(err)
	}
	v, _ := lazy.Value("a")
	if lazy.Len() != 1 || v != whole.Values["a"] {
		t.Fatalf("lazily: %d values, a = %v; whole: %v", lazy.Len(), v, whole.Values)
	}
}
