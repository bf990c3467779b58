package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// JSON is a Codec on encoding/json, for stores that other languages read or
// people inspect. JSON has fewer types than Go, so values come back as
// follows:
//
//   - strings, bools and nil as themselves; invalid UTF-8 in a string comes
//     back with each bad byte replaced by U+FFFD;
//   - numbers as int64 when they are whole and fit in an int64 (so int(3),
//     uint8(3) and float64(3.0) all come back as int64(3)), otherwise as
//     float64 (so uint64 values above math.MaxInt64 lose precision);
//   - time.Time as a string in time.RFC3339Nano format;
//   - []byte as a string in standard base64;
//   - maps as map[string]any, slices and arrays as []any, structs as
//     map[string]any keyed by their JSON field names.
//
// Values JSON cannot hold (NaN, infinities, channels, functions, maps with
// keys that are not strings or integers) make Encode fail.
//
// The State's own fields (Created, Deadline, KeyExpiry, ...) keep their Go
// types. Input nested deeper than 10,000 levels is rejected by encoding/json.
type JSON struct{}

var _ Codec = JSON{}

// Encode encodes st as a JSON object.
func (JSON) Encode(st *State) ([]byte, error) {
	if st == nil {
		return nil, errNilState
	}
	data, err := json.Marshal(st.eager())
	if err != nil {
		return nil, fmt.Errorf("codec: json encode: %w", err)
	}
	return data, nil
}

// Decode decodes data written by JSON.Encode into st.
func (JSON) Decode(data []byte, st *State) error {
	if st == nil {
		return errNilState
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var fresh State
	if err := dec.Decode(&fresh); err != nil {
		return fmt.Errorf("codec: json decode: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("codec: json decode: trailing data after the object")
	}
	for k, v := range fresh.Values {
		nv, err := fromJSONNumbers(v)
		if err != nil {
			return fmt.Errorf("codec: json decode: value %q: %w", k, err)
		}
		fresh.Values[k] = nv
	}
	*st = finish(fresh)
	return nil
}

// fromJSONNumbers replaces, in place and at any depth, each json.Number in
// v by an int64 or a float64.
func fromJSONNumbers(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		return jsonNumber(v)
	case map[string]any:
		for k, e := range v {
			ne, err := fromJSONNumbers(e)
			if err != nil {
				return nil, err
			}
			v[k] = ne
		}
	case []any:
		for i, e := range v {
			ne, err := fromJSONNumbers(e)
			if err != nil {
				return nil, err
			}
			v[i] = ne
		}
	}
	return v, nil
}

// jsonNumber returns n as an int64 when it is a whole number in int64
// range, written either way ("1000" or "1e3"), and as a float64 otherwise.
func jsonNumber(n json.Number) (any, error) {
	if i, err := n.Int64(); err == nil {
		return i, nil
	}
	f, err := n.Float64()
	if err != nil {
		// Out of float64 range, as json.Unmarshal into any would report.
		return nil, err
	}
	// -2^63 is exact in float64; 2^63 is the first value out of range.
	if f == math.Trunc(f) && f >= -1<<63 && f < 1<<63 {
		return int64(f), nil
	}
	return f, nil
}
