// Package codec turns session state into bytes and back.
//
// Three codecs ship with httpsession:
//
//   - Gob, the default: Go-only, keeps Go types exactly (an int stays an
//     int, a time.Time a time.Time); types other than the basic ones,
//     map[string]any, []any, time.Time and time.Duration (struct values in
//     particular) need gob.Register.
//   - JSON: readable from any language. Numbers that are whole and fit come
//     back as int64, others as float64; times come back as RFC 3339 strings,
//     byte slices as base64 strings, slices as []any and maps as
//     map[string]any.
//   - CBOR (RFC 8949) on github.com/fxamacker/cbor/v2: compact binary and a
//     standard other languages read. Integers come back as int64, floats as
//     float64, times as time.Time. That library was chosen over msgpack
//     because it is built for untrusted input: its decoder has hard limits on
//     nesting depth, array and map sizes, and it is fuzzed continuously.
//
// Each codec's doc lists exactly what type each kind of value comes back as.
// Whatever the codec, the State's own fields keep their Go types, and As
// (which httpsession.Get uses) turns a value that came back into the type
// it went in as: numbers, times, byte slices, and slices and maps of them.
//
// Gob also decodes lazily (LazyDecoder): the Manager loads sessions that
// way, so a request decodes only the values it reads, and a save copies
// the bytes of the values nothing could have changed.
//
// A Codec never instantiates types it was not told about and never runs
// code while decoding, so a stored record cannot become remote code
// execution the way pickled or Storable sessions did.
package codec

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// State is everything the Manager keeps about one session besides the
// store's own metadata.
type State struct {
	// Values are the application's key-value pairs. After DecodeLazy
	// (LazyDecoder) it is nil while the values are held undecoded: the
	// methods Value, SetValue, DeleteValue, ClearValues, Len and Keys work
	// on the values whichever way they are held, and LoadValues fills it.
	Values map[string]any `json:"values,omitempty" cbor:"1,keyasint,omitempty"`
	// Created is when the session was created or last renewed.
	Created time.Time `json:"created" cbor:"2,keyasint"`
	// Deadline is the absolute expiry; activity never moves it.
	Deadline time.Time `json:"deadline" cbor:"3,keyasint"`
	// KeyExpiry holds per-key expiry times set with Session.SetKeyExpiry.
	KeyExpiry map[string]time.Time `json:"key_expiry,omitempty" cbor:"4,keyasint,omitempty"`
	// Owner is the principal set with Session.SetOwner.
	Owner string `json:"owner,omitempty" cbor:"5,keyasint,omitempty"`
	// UserAgent and IP are the client recorded at creation when the
	// Manager's RecordClient option is on.
	UserAgent string `json:"user_agent,omitempty" cbor:"6,keyasint,omitempty"`
	IP        string `json:"ip,omitempty" cbor:"7,keyasint,omitempty"`
	// Saved is when the session's data was last written.
	Saved time.Time `json:"saved,omitzero" cbor:"8,keyasint"`
	// Lifetime, when not zero, is the session's own absolute lifetime,
	// counted from Created, and Persist its own cookie kind, both set with
	// Session.SetLifetime; zero means the Manager's.
	Lifetime time.Duration `json:"lifetime,omitempty" cbor:"9,keyasint,omitempty"`
	Persist  bool          `json:"persist,omitempty" cbor:"10,keyasint,omitempty"`
	// Renewed marks the record Session.Renew leaves under the old key for
	// a grace window: it holds no values and expires with the window.
	Renewed bool `json:"renewed,omitempty" cbor:"11,keyasint,omitempty"`

	// keys caches the keys of Values in ascending order, so that Keys
	// need not sort them again: Gob's tagged format writes Values in this
	// order when it is known, and its decoder keeps it. It counts only
	// while it names exactly the keys of Values, which every use checks,
	// so code that changes Values directly needs to do nothing about it.
	// Its array is never written once it is set.
	keys []string
	// lazy, when not nil, holds the values in place of Values: DecodeLazy
	// left them undecoded.
	lazy *lazyValues
}

// Keys returns the keys of the values in ascending order, in a slice the
// caller owns.
func (st *State) Keys() []string {
	if st.lazy != nil {
		return st.lazy.keys()
	}
	if st.keysValid() {
		return slices.Clone(st.keys)
	}
	keys := make([]string, 0, len(st.Values))
	for k := range st.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if len(keys) >= minCachedKeys {
		st.keys = slices.Clone(keys)
	}
	return keys
}

// minCachedKeys is the fewest keys whose order is worth keeping: fewer
// sort in no time.
const minCachedKeys = 8

// keysValid reports whether st.keys holds exactly the keys of Values.
func (st *State) keysValid() bool {
	if len(st.keys) != len(st.Values) || len(st.keys) == 0 {
		return false
	}
	for _, k := range st.keys {
		if _, ok := st.Values[k]; !ok {
			return false
		}
	}
	return true
}

// Codec encodes and decodes session state. Implementations must be safe for
// concurrent use.
//
// Decode replaces *st entirely when it succeeds (nothing of the previous
// contents survives) and leaves it untouched when it fails. After a
// successful Decode, st.Values is never nil; an empty KeyExpiry may come
// back nil. Decode never panics, whatever the input: malformed or truncated
// data is an error.
type Codec interface {
	Encode(st *State) ([]byte, error)
	Decode(data []byte, st *State) error
}

// AppendEncoder is implemented by codecs that can encode into a buffer
// the caller owns: AppendEncode appends the encoding of st to dst and
// returns the extended buffer, as Encode would return it. The Manager
// encodes into a buffer it reuses, so a write costs no copy of the record
// beyond the one the store keeps. On error the returned slice is nil and
// dst's contents past len(dst) are unspecified.
type AppendEncoder interface {
	AppendEncode(dst []byte, st *State) ([]byte, error)
}

// ByName returns the codec called name: "gob", "json" or "cbor".
func ByName(name string) (Codec, error) {
	switch name {
	case "gob":
		return Gob{}, nil
	case "json":
		return JSON{}, nil
	case "cbor":
		return CBOR{}, nil
	}
	return nil, fmt.Errorf("codec: unknown codec %q (valid: gob, json, cbor)", name)
}

var errNilState = errors.New("codec: nil *State")

// finish applies to freshly decoded state what Codec promises of Decode.
func finish(st State) State {
	if st.Values == nil {
		st.Values = map[string]any{}
	}
	return st
}
