package codec

import (
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
)

// CBOR is a Codec on github.com/fxamacker/cbor/v2: a compact binary form
// (RFC 8949) that other languages read. Values come back as follows:
//
//   - strings (even with invalid UTF-8), bools, nil and []byte as
//     themselves;
//   - integers of any Go type as int64; an unsigned value above
//     math.MaxInt64 as a *big.Int;
//   - floats of either size as float64 (stored in the fewest bytes that
//     keep the value exact);
//   - time.Time as time.Time (tag 0, RFC 3339 with nanoseconds and the UTC
//     offset; the zone name is lost, Equal holds), except that a zero
//     time.Time is stored as null and so comes back as nil;
//   - maps as map[string]any (so map keys must be strings to come back),
//     slices and arrays as []any, structs as map[string]any.
//
// The decoder refuses input nested deeper than 32 levels (the State and its
// Values map count as two), arrays longer than 65,536 elements and maps with
// more than 65,536 entries. Encode does not check these limits: a value
// beyond them is stored but cannot be read back.
type CBOR struct{}

var _ Codec = CBOR{}

var (
	cborEnc cbor.EncMode
	cborDec cbor.DecMode
)

func init() {
	var err error
	cborEnc, err = cbor.EncOptions{
		ShortestFloat: cbor.ShortestFloat16,
		Time:          cbor.TimeRFC3339Nano,
		TimeTag:       cbor.EncTagRequired,
	}.EncMode()
	if err != nil {
		panic("codec: CBOR encoding options: " + err.Error())
	}
	cborDec, err = cbor.DecOptions{
		MaxNestedLevels:  32,
		MaxArrayElements: 1 << 16,
		MaxMapPairs:      1 << 16,
		DefaultMapType:   reflect.TypeFor[map[string]any](),
		IntDec:           cbor.IntDecConvertSignedOrBigInt,
		BigIntDec:        cbor.BigIntDecodePointer,
		TimeTagToAny:     cbor.TimeTagToTime,
		// Go strings may hold any bytes, and what Encode accepts Decode
		// must accept.
		UTF8: cbor.UTF8DecodeInvalid,
	}.DecMode()
	if err != nil {
		panic("codec: CBOR decoding options: " + err.Error())
	}
}

// Encode encodes st as a CBOR map with small integer keys.
func (CBOR) Encode(st *State) ([]byte, error) {
	if st == nil {
		return nil, errNilState
	}
	data, err := cborEnc.Marshal(st.eager())
	if err != nil {
		return nil, fmt.Errorf("codec: cbor encode: %w", err)
	}
	return data, nil
}

// Decode decodes data written by CBOR.Encode into st.
func (CBOR) Decode(data []byte, st *State) error {
	if st == nil {
		return errNilState
	}
	var fresh State
	if err := cborDec.Unmarshal(data, &fresh); err != nil {
		return fmt.Errorf("codec: cbor decode: %w", err)
	}
	*st = finish(fresh)
	return nil
}
