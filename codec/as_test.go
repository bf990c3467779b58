package codec_test

import (
	"encoding/hex"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/httpsession/httpsession/codec"
)

var codecs = map[string]codec.Codec{"gob": codec.Gob{}, "json": codec.JSON{}, "cbor": codec.CBOR{}}

// roundTrip encodes v as the value "v" of a State and returns what comes
// back.
func roundTrip(t *testing.T, c codec.Codec, v any) any {
	t.Helper()
	data, err := c.Encode(&codec.State{Values: map[string]any{"v": v}})
	if err != nil {
		t.Fatal(err)
	}
	var st codec.State
	if err := c.Decode(data, &st); err != nil {
		t.Fatal(err)
	}
	return st.Values["v"]
}

// asCheck is one As conversion: the value stored and the type asked for.
type asCheck struct {
	in   any
	as   func(any) (any, bool)
	want any
}

func as[T any](v any) (any, bool) { return codec.As[T](v) }

// Values come back through every codec as As asks, whatever the codec made
// of them.
func TestAsAcrossCodecs(t *testing.T) {
	when := time.Date(2026, 12, 1, 10, 0, 0, 5, time.UTC)
	checks := map[string]asCheck{
		"[]byte":              {[]byte{0, 1, 0xff}, as[[]byte], []byte{0, 1, 0xff}},
		"[]string":            {[]string{"a", "b"}, as[[]string], []string{"a", "b"}},
		"[]int":               {[]int{1, -2, 3}, as[[]int], []int{1, -2, 3}},
		"[]float64":           {[]float64{1.5, 2}, as[[]float64], []float64{1.5, 2}},
		"map[string]int":      {map[string]int{"a": 1, "b": 2}, as[map[string]int], map[string]int{"a": 1, "b": 2}},
		"map[string]string":   {map[string]string{"a": "x"}, as[map[string]string], map[string]string{"a": "x"}},
		"map[string][]string": {map[string][]string{"a": {"x", "y"}}, as[map[string][]string], map[string][]string{"a": {"x", "y"}}},
		"[]map[string]int":    {[]map[string]int{{"a": 1}}, as[[]map[string]int], []map[string]int{{"a": 1}}},
		"int":                 {42, as[int], 42},
		"uint8":               {uint8(200), as[uint8], uint8(200)},
		"uint64 max":          {uint64(math.MaxUint64), as[uint64], uint64(math.MaxUint64)},
		"time":                {when, as[time.Time], when},
		"bool":                {true, as[bool], true},
		"[]any":               {[]any{"a", int64(1)}, as[[]any], nil}, // shape checked below
	}
	for name, c := range codecs {
		for what, ck := range checks {
			t.Run(name+"/"+what, func(t *testing.T) {
				if name == "json" && what == "uint64 max" {
					t.Skip("JSON keeps uint64 above MaxInt64 as a float64 (documented)")
				}
				if name == "gob" && what == "[]map[string]int" {
					t.Skip("gob needs gob.Register for this type (documented)")
				}
				got := roundTrip(t, c, ck.in)
				v, ok := ck.as(got)
				if !ok {
					t.Fatalf("As refused %T %#v", got, got)
				}
				if ck.want == nil {
					return
				}
				if tm, isTime := ck.want.(time.Time); isTime {
					if !v.(time.Time).Equal(tm) {
						t.Fatalf("got %v, want %v", v, tm)
					}
					return
				}
				if !reflect.DeepEqual(v, ck.want) {
					t.Fatalf("got %#v, want %#v", v, ck.want)
				}
			})
		}
	}
}

// As refuses what would lose something, and never panics on a mismatch.
func TestAsRefuses(t *testing.T) {
	for name, ck := range map[string]struct {
		ok bool
		v  any
	}{
		"fraction as int":           {false, mustAs[int](7.5)},
		"negative as uint":          {false, mustAs[uint](-1)},
		"300 as uint8":              {false, mustAs[uint8](int64(300))},
		"string as int":             {false, mustAs[int]("7")},
		"bad base64 as []byte":      {false, mustAs[[]byte]("%%%")},
		"mixed slice as []int":      {false, mustAs[[]int]([]any{int64(1), "x"})},
		"int keys as map":           {false, mustAs[map[int]int](map[string]any{"1": int64(1)})},
		"nil as string":             {false, mustAs[string](nil)},
		"whole float as int":        {true, mustAs[int](7.0)},
		"nil element as []any":      {true, mustAs[[]any]([]any{nil})},
		"nil element as []string":   {false, mustAs[[]string]([]any{nil})},
		"not a time as time.Time":   {false, mustAs[time.Time]("yesterday")},
		"int64 as float64, exact":   {true, mustAs[float64](int64(1 << 52))},
		"int64 as float64, inexact": {false, mustAs[float64](int64(1<<53 + 1))},
	} {
		if got := ck.v.(bool); got != ck.ok {
			t.Errorf("%s: ok = %v, want %v", name, got, ck.ok)
		}
	}
}

func mustAs[T any](v any) any {
	_, ok := codec.As[T](v)
	return ok
}

// The fields added to State (Lifetime, Persist, Renewed) come back through
// every codec.
func TestStateLifetimeFields(t *testing.T) {
	st := codec.State{Values: map[string]any{}, Lifetime: 30 * 24 * time.Hour, Persist: true, Renewed: true}
	for name, c := range codecs {
		data, err := c.Encode(&st)
		if err != nil {
			t.Fatal(err)
		}
		var got codec.State
		if err := c.Decode(data, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.Lifetime != st.Lifetime || !got.Persist || !got.Renewed {
			t.Errorf("%s: Lifetime %v, Persist %v, Renewed %v", name, got.Lifetime, got.Persist, got.Renewed)
		}
	}
}

// Records written before State had its lifetime fields still decode, and a
// State without them encodes to the very same bytes, so older versions
// read it too.
func TestOldRecordsDecode(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	want := codec.State{Values: map[string]any{"user": "ann"}, Created: at, Deadline: at.Add(24 * time.Hour), Owner: "ann", Saved: at}
	old := map[string]string{ // written by the codecs of the previous release
		"gob":  "b10f010000000ee2a091a000000000ffff0f010000000ee2a1e32000000000ffff0f010000000ee2a091a000000000ffff03616e6e0000000104757365720103616e6e",
		"json": "7b2276616c756573223a7b2275736572223a22616e6e227d2c2263726561746564223a22323032362d31322d30315431303a30303a30305a222c22646561646c696e65223a22323032362d31322d30325431303a30303a30305a222c226f776e6572223a22616e6e222c227361766564223a22323032362d31322d30315431303a30303a30305a227d",
		"cbor": "a501a1647573657263616e6e02c074323032362d31322d30315431303a30303a30305a03c074323032362d31322d30325431303a30303a30305a0563616e6e08c074323032362d31322d30315431303a30303a30305a",
	}
	for name, h := range old {
		data, _ := hex.DecodeString(h)
		var got codec.State
		if err := codecs[name].Decode(data, &got); err != nil {
			t.Fatalf("%s: old record: %v", name, err)
		}
		if got.Owner != "ann" || got.Values["user"] != "ann" || !got.Deadline.Equal(want.Deadline) || got.Lifetime != 0 || got.Persist || got.Renewed {
			t.Errorf("%s: old record read as %+v", name, got)
		}
		again, err := codecs[name].Encode(&want)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(again) != h {
			t.Errorf("%s: a State without the new fields encodes differently:\n got %x\nwant %s", name, again, h)
		}
	}
}

// A gob record's trailer with unknown flags, or with bytes after it, is
// refused.
func TestGobTrailerCorrupt(t *testing.T) {
	data, err := codec.Gob{}.Encode(&codec.State{Lifetime: time.Hour, Persist: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"unknown flag": append(data[:len(data)-1:len(data)-1], 0x80),
		"extra byte":   append(data[:len(data):len(data)], 0),
		"no flags":     data[: len(data)-1 : len(data)-1],
	} {
		var st codec.State
		if err := (codec.Gob{}).Decode(bad, &st); err == nil {
			t.Errorf("%s: decoded %+v", name, st)
		}
	}
}
