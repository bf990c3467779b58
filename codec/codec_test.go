package codec_test

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"maps"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httpsession/httpsession/codec"
)

var (
	cet      = time.FixedZone("CET", 3600)
	tNano    = time.Date(2024, 3, 1, 12, 30, 45, 123456789, cet)
	tCreated = time.Date(2024, 3, 1, 11, 0, 0, 0, time.UTC)
	tKey     = time.Date(2024, 3, 1, 11, 15, 0, 500, time.UTC)
)

// prefs stands for an application's own struct stored in a session.
type prefs struct {
	Theme    string
	FontSize int
}

// chain is a recursive type for deeply nested gob records.
type chain struct{ Next *chain }

func init() {
	gob.Register(prefs{})
	gob.Register(chain{})
}

// unregistered is a struct type nobody registers with gob.
type unregistered struct{ N int }

func vals(m map[string]any) codec.State { return codec.State{Values: m} }

// fullState has every State field set.
func fullState() codec.State {
	return codec.State{
		Values:    map[string]any{"user": "alice"},
		Created:   tCreated,
		Deadline:  tCreated.Add(24 * time.Hour),
		KeyExpiry: map[string]time.Time{"flash": tKey, "otp": tNano},
		Owner:     "user:42",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		IP:        "2001:db8::1",
	}
}

// inputs are the states every codec must bring back; each codec's test
// states the form it brings each one back in.
func inputs() map[string]codec.State {
	return map[string]codec.State{
		"strings": vals(map[string]any{"s": "héllo wörld", "empty": "", "bad utf8": "\xff\xfe"}),
		"ints": vals(map[string]any{
			"int": 42, "int64": int64(-1 << 62), "uint8": uint8(7), "uint64": uint64(math.MaxUint64),
		}),
		"floats": vals(map[string]any{
			"f64": 3.25, "f32": float32(1.5), "whole": 2.0, "tiny": 1e-300, "huge whole": 1e20,
		}),
		"times":  vals(map[string]any{"t": tNano, "zero": time.Time{}, "d": 90 * time.Second}),
		"bytes":  vals(map[string]any{"b": []byte{0, 1, 2, 0xff}}),
		"nested": vals(map[string]any{"m": map[string]any{"list": []any{1, "two", 3.5, map[string]any{"deep": true}}, "tags": []string{"a", "b"}}}),
		"struct": vals(map[string]any{"prefs": prefs{"dark", 14}}),
		// Every codec brings these back unchanged.
		"bools":        vals(map[string]any{"t": true, "f": false}),
		"nil value":    vals(map[string]any{"n": nil}),
		"metadata":     fullState(),
		"empty values": vals(map[string]any{}),
		"nil values":   vals(nil),
	}
}

// unchanged are the wants of the inputs every codec brings back as they were.
func unchanged() map[string]codec.State {
	return map[string]codec.State{
		"bools":        vals(map[string]any{"t": true, "f": false}),
		"nil value":    vals(map[string]any{"n": nil}),
		"metadata":     fullState(),
		"empty values": vals(map[string]any{}),
		"nil values":   vals(map[string]any{}),
	}
}

func TestGobRoundTrip(t *testing.T) {
	// Gob keeps Go types: every input comes back as it went in.
	runRoundTrips(t, codec.Gob{}, inputs())
}

func TestJSONRoundTrip(t *testing.T) {
	runRoundTrips(t, codec.JSON{}, map[string]codec.State{
		"strings": vals(map[string]any{"s": "héllo wörld", "empty": "", "bad utf8": "\ufffd\ufffd"}),
		"ints": vals(map[string]any{
			"int": int64(42), "int64": int64(-1 << 62), "uint8": int64(7), "uint64": float64(math.MaxUint64),
		}),
		"floats": vals(map[string]any{
			"f64": 3.25, "f32": 1.5, "whole": int64(2), "tiny": 1e-300, "huge whole": 1e20,
		}),
		"times":  vals(map[string]any{"t": "2024-03-01T12:30:45.123456789+01:00", "zero": "0001-01-01T00:00:00Z", "d": int64(90e9)}),
		"bytes":  vals(map[string]any{"b": "AAEC/w=="}),
		"nested": vals(map[string]any{"m": map[string]any{"list": []any{int64(1), "two", 3.5, map[string]any{"deep": true}}, "tags": []any{"a", "b"}}}),
		"struct": vals(map[string]any{"prefs": map[string]any{"Theme": "dark", "FontSize": int64(14)}}),
	})
}

func TestCBORRoundTrip(t *testing.T) {
	runRoundTrips(t, codec.CBOR{}, map[string]codec.State{
		"strings": vals(map[string]any{"s": "héllo wörld", "empty": "", "bad utf8": "\xff\xfe"}),
		"ints": vals(map[string]any{
			"int": int64(42), "int64": int64(-1 << 62), "uint8": int64(7), "uint64": new(big.Int).SetUint64(math.MaxUint64),
		}),
		"floats": vals(map[string]any{
			"f64": 3.25, "f32": 1.5, "whole": 2.0, "tiny": 1e-300, "huge whole": 1e20,
		}),
		"times":  vals(map[string]any{"t": tNano, "zero": nil, "d": int64(90e9)}),
		"bytes":  vals(map[string]any{"b": []byte{0, 1, 2, 0xff}}),
		"nested": vals(map[string]any{"m": map[string]any{"list": []any{int64(1), "two", 3.5, map[string]any{"deep": true}}, "tags": []any{"a", "b"}}}),
		"struct": vals(map[string]any{"prefs": map[string]any{"Theme": "dark", "FontSize": int64(14)}}),
	})
}

// runRoundTrips round-trips every input through c and compares the result
// with wants (plus unchanged) by input name.
func runRoundTrips(t *testing.T, c codec.Codec, wants map[string]codec.State) {
	t.Helper()
	maps.Copy(wants, unchanged())
	ins := inputs()
	if len(wants) != len(ins) {
		t.Fatalf("%d inputs but %d wants", len(ins), len(wants))
	}
	for _, name := range slices.Sorted(maps.Keys(ins)) {
		in := ins[name]
		want, ok := wants[name]
		if !ok {
			t.Fatalf("no want for input %q", name)
		}
		t.Run(name, func(t *testing.T) {
			data, err := c.Encode(&in)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			var got codec.State
			if err := c.Decode(data, &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.Values == nil {
				t.Error("decoded Values is nil")
			}
			if d := diffState(got, want); d != "" {
				t.Error(d)
			}
		})
	}
}

// diffState describes how got differs from want, or returns "". Times
// compare with Equal, everything else also by type.
func diffState(got, want codec.State) string {
	var b strings.Builder
	if !got.Created.Equal(want.Created) {
		fmt.Fprintf(&b, "Created = %v, want %v\n", got.Created, want.Created)
	}
	if !got.Deadline.Equal(want.Deadline) {
		fmt.Fprintf(&b, "Deadline = %v, want %v\n", got.Deadline, want.Deadline)
	}
	if got.Owner != want.Owner || got.UserAgent != want.UserAgent || got.IP != want.IP {
		fmt.Fprintf(&b, "Owner, UserAgent, IP = %q, %q, %q, want %q, %q, %q\n",
			got.Owner, got.UserAgent, got.IP, want.Owner, want.UserAgent, want.IP)
	}
	if len(got.KeyExpiry) != len(want.KeyExpiry) {
		fmt.Fprintf(&b, "KeyExpiry = %v, want %v\n", got.KeyExpiry, want.KeyExpiry)
	}
	for k, w := range want.KeyExpiry {
		if g, ok := got.KeyExpiry[k]; !ok || !g.Equal(w) {
			fmt.Fprintf(&b, "KeyExpiry[%q] = %v, want %v\n", k, g, w)
		}
	}
	if len(got.Values) != len(want.Values) {
		fmt.Fprintf(&b, "Values has %d keys, want %d: %#v\n", len(got.Values), len(want.Values), got.Values)
	}
	for k, w := range want.Values {
		g, ok := got.Values[k]
		if !ok || !valueEqual(g, w) {
			fmt.Fprintf(&b, "Values[%q] = %#v (%T), want %#v (%T)\n", k, g, g, w, w)
		}
	}
	return b.String()
}

func valueEqual(got, want any) bool {
	switch w := want.(type) {
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	case *big.Int:
		g, ok := got.(*big.Int)
		return ok && g.Cmp(w) == 0
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok || !valueEqual(gv, wv) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !valueEqual(g[i], w[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(got, want)
}

var allCodecs = []struct {
	name string
	c    codec.Codec
}{
	{"gob", codec.Gob{}},
	{"json", codec.JSON{}},
	{"cbor", codec.CBOR{}},
}

func TestDecodeReplacesState(t *testing.T) {
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.c.Encode(&codec.State{Values: map[string]any{"new": "v"}})
			if err != nil {
				t.Fatal(err)
			}
			st := fullState()
			st.Values["old"] = "stale"
			if err := tc.c.Decode(data, &st); err != nil {
				t.Fatal(err)
			}
			want := vals(map[string]any{"new": "v"})
			if d := diffState(st, want); d != "" {
				t.Errorf("state kept from before Decode:\n%s", d)
			}
		})
	}
}

func TestDecodeErrorLeavesStateAlone(t *testing.T) {
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			data, err := tc.c.Encode(&codec.State{Values: map[string]any{"new": "v"}, Owner: "other"})
			if err != nil {
				t.Fatal(err)
			}
			st := fullState()
			if err := tc.c.Decode(data[:len(data)-1], &st); err == nil {
				t.Fatal("Decode of a truncated record succeeded")
			}
			if d := diffState(st, fullState()); d != "" {
				t.Errorf("failed Decode changed the state:\n%s", d)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		name string
		c    codec.Codec
		st   *codec.State
	}{
		{"gob unregistered struct", codec.Gob{}, &codec.State{Values: map[string]any{"u": unregistered{1}}}},
		{"gob func", codec.Gob{}, &codec.State{Values: map[string]any{"f": func() {}}}},
		{"json NaN", codec.JSON{}, &codec.State{Values: map[string]any{"nan": math.NaN()}}},
		{"json channel", codec.JSON{}, &codec.State{Values: map[string]any{"ch": make(chan int)}}},
		{"cbor channel", codec.CBOR{}, &codec.State{Values: map[string]any{"ch": make(chan int)}}},
		{"gob nil state", codec.Gob{}, nil},
		{"json nil state", codec.JSON{}, nil},
		{"cbor nil state", codec.CBOR{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if data, err := tc.c.Encode(tc.st); err == nil {
				t.Errorf("Encode succeeded with %d bytes, want an error", len(data))
			}
		})
	}
	for _, tc := range allCodecs {
		t.Run(tc.name+" decode into nil", func(t *testing.T) {
			data, err := tc.c.Encode(&codec.State{})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.c.Decode(data, nil); err == nil {
				t.Error("Decode into a nil *State succeeded")
			}
		})
	}
}

func TestJSONNumbers(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"0", int64(0)},
		{"-0", int64(0)},
		{"1e3", int64(1000)},
		{"2.0", int64(2)},
		{"-2.5", -2.5},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"-9.223372036854775808e18", int64(math.MinInt64)},
		{"9223372036854775808", 9223372036854775808.0},
		{"1e300", 1e300},
		{"[1, [2.5, {\"x\": 3}]]", []any{int64(1), []any{2.5, map[string]any{"x": int64(3)}}}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			var st codec.State
			if err := (codec.JSON{}).Decode([]byte(`{"values":{"n":`+tc.in+`}}`), &st); err != nil {
				t.Fatal(err)
			}
			if got := st.Values["n"]; !valueEqual(got, tc.want) {
				t.Errorf("got %#v (%T), want %#v (%T)", got, got, tc.want, tc.want)
			}
		})
	}
	t.Run("out of range", func(t *testing.T) {
		var st codec.State
		if err := (codec.JSON{}).Decode([]byte(`{"values":{"n":[1e400]}}`), &st); err == nil {
			t.Errorf("1e400 decoded as %#v, want an error", st.Values["n"])
		}
	})
}

// garbage is input no codec may accept: fixed cases, truncations and
// extensions of a valid record, and random bytes from a fixed seed.
func garbage(t *testing.T, c codec.Codec) map[string][]byte {
	valid, err := c.Encode(ptr(fullState()))
	if err != nil {
		t.Fatal(err)
	}
	g := map[string][]byte{
		"nil":           nil,
		"empty":         {},
		"zero byte":     {0},
		"text":          []byte("this is not a session record"),
		"all ones":      bytes.Repeat([]byte{0xff}, 64),
		"trailing byte": append(bytes.Clone(valid), 0),
		"doubled":       append(bytes.Clone(valid), valid...),
	}
	for n := range len(valid) {
		g[fmt.Sprintf("prefix %d", n)] = valid[:n]
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		b := make([]byte, 1+rng.IntN(256))
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		g[fmt.Sprintf("random %d", i)] = b
	}
	return g
}

func ptr[T any](v T) *T { return &v }

func TestDecodeGarbage(t *testing.T) {
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			for name, data := range garbage(t, tc.c) {
				var st codec.State
				if err := tc.c.Decode(data, &st); err == nil {
					t.Errorf("%s: Decode(%q) succeeded: %#v", name, data, st)
				}
			}
		})
	}
}

// TestDecodeDeepNesting feeds arrays and maps nested far deeper than any
// session needs. Decode may refuse or accept them but must not crash, must
// refuse the deepest, and what it accepts must encode again.
func TestDecodeDeepNesting(t *testing.T) {
	const tooDeep = 100_000
	// Gob encodes nested interface values in quadratic time, so the deep
	// gob record is a chain of a registered recursive struct instead.
	gobNested := func(depth int) []byte {
		var c *chain
		for range depth {
			c = &chain{Next: c}
		}
		data, err := codec.Gob{}.Encode(&codec.State{Values: map[string]any{"x": *c}})
		if err != nil {
			t.Fatalf("gob encode at depth %d: %v", depth, err)
		}
		return data
	}
	cases := []struct {
		name     string
		c        codec.Codec
		build    func(depth int) []byte
		okDepth  int // must decode
		badDepth int // must be refused
	}{
		{"json arrays", codec.JSON{}, func(n int) []byte {
			return []byte(`{"values":{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`)
		}, 1000, tooDeep},
		{"json maps", codec.JSON{}, func(n int) []byte {
			return []byte(`{"values":{"x":` + strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) + `}}`)
		}, 1000, tooDeep},
		{"cbor arrays", codec.CBOR{}, func(n int) []byte {
			// {1: {"x": [[...[]...]]}}
			b := []byte{0xa1, 0x01, 0xa1, 0x61, 'x'}
			b = append(b, bytes.Repeat([]byte{0x81}, n)...)
			return append(b, 0x80)
		}, 20, 10_000},
		{"cbor maps", codec.CBOR{}, func(n int) []byte {
			b := []byte{0xa1, 0x01, 0xa1, 0x61, 'x'}
			b = append(b, bytes.Repeat([]byte{0xa1, 0x61, 'a'}, n)...)
			return append(b, 0x01)
		}, 20, 10_000},
		{"cbor tags", codec.CBOR{}, func(n int) []byte {
			b := []byte{0xa1, 0x01, 0xa1, 0x61, 'x'}
			b = append(b, bytes.Repeat([]byte{0xd9, 0xff, 0xff}, n)...) // tag 65535
			return append(b, 0x01)
		}, 20, 10_000},
		{"gob structs", codec.Gob{}, gobNested, 1000, -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, depth := range []int{tc.okDepth, 10_000, tooDeep} {
				var st codec.State
				err := tc.c.Decode(tc.build(depth), &st)
				switch {
				case depth == tc.okDepth && err != nil:
					t.Errorf("depth %d: %v", depth, err)
				case depth == tc.badDepth && err == nil:
					t.Errorf("depth %d: decoded, want an error", depth)
				case err != nil:
					t.Logf("depth %d: %v", depth, err)
				default:
					if _, err := tc.c.Encode(&st); err != nil {
						t.Errorf("depth %d: decoded but does not encode again: %v", depth, err)
					}
				}
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	for _, tc := range allCodecs {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 50 {
						in := fullState()
						in.Values["n"] = fmt.Sprint(g, i)
						data, err := tc.c.Encode(&in)
						if err != nil {
							t.Error(err)
							return
						}
						var out codec.State
						if err := tc.c.Decode(data, &out); err != nil {
							t.Error(err)
							return
						}
						if d := diffState(out, in); d != "" {
							t.Error(d)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func TestByName(t *testing.T) {
	for _, tc := range allCodecs {
		c, err := codec.ByName(tc.name)
		if err != nil {
			t.Errorf("ByName(%q): %v", tc.name, err)
			continue
		}
		if reflect.TypeOf(c) != reflect.TypeOf(tc.c) {
			t.Errorf("ByName(%q) = %T, want %T", tc.name, c, tc.c)
		}
	}
	for _, name := range []string{"", "xml", "GOB", "gob "} {
		c, err := codec.ByName(name)
		if err == nil {
			t.Errorf("ByName(%q) = %T, want an error", name, c)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "gob, json, cbor") {
			t.Errorf("ByName(%q) error %q does not list the valid names", name, msg)
		}
	}
}

// benchStates are a typical small session and a fat one of 50 keys.
func benchStates() map[string]*codec.State {
	small := fullState()
	small.KeyExpiry = nil
	small.Values = map[string]any{
		"user_id": 12345,
		"csrf":    "hT3p8Qm1vX9aK2rL7sN4bC6dF0gJ5eW8",
		"flash":   "Your changes were saved.",
	}
	fat := fullState()
	fat.Values = map[string]any{}
	for i := range 50 {
		k := fmt.Sprintf("key_%02d", i)
		switch i % 5 {
		case 0:
			fat.Values[k] = strings.Repeat("lorem ipsum ", 10)
		case 1:
			fat.Values[k] = i * 1000
		case 2:
			fat.Values[k] = tNano.Add(time.Duration(i) * time.Minute)
		case 3:
			fat.Values[k] = []any{"a", i, 2.5, true}
		case 4:
			fat.Values[k] = map[string]any{"id": i, "name": "item", "price": 9.99, "tags": []any{"x", "y"}}
		}
	}
	return map[string]*codec.State{"small": &small, "fat": &fat}
}

func BenchmarkCodecs(b *testing.B) {
	states := benchStates()
	for _, tc := range allCodecs {
		for _, size := range []string{"small", "fat"} {
			st := states[size]
			b.Run(tc.name+"/"+size, func(b *testing.B) {
				b.ReportAllocs()
				var n int
				for b.Loop() {
					data, err := tc.c.Encode(st)
					if err != nil {
						b.Fatal(err)
					}
					var out codec.State
					if err := tc.c.Decode(data, &out); err != nil {
						b.Fatal(err)
					}
					n = len(data)
				}
				b.ReportMetric(float64(n), "record-bytes")
			})
		}
	}
}
