// Package codec turns session state into bytes and back.
//
// Three codecs ship with httpsession:
//
//   - Gob, the default: Go-only, keeps Go types exactly (an int stays an
//     int, a time.Time a time.Time); struct values need gob.Register.
//   - JSON: readable from any language. Numbers that are whole come back as
//     int64, others as float64; times come back as RFC 3339 strings and byte
//     slices as base64 strings (httpsession.Get converts them back).
//   - CBOR (RFC 8949) on github.com/fxamacker/cbor/v2: compact binary and a
//     standard other languages read. That library was chosen over msgpack
//     because it is built for untrusted input: its decoder has hard limits on
//     nesting depth, array and map sizes, and it is fuzzed continuously.
//
// A Codec never instantiates types it was not told about and never runs
// code while decoding, so a stored record cannot become remote code
// execution the way pickled or Storable sessions did.
package codec

import "time"

// State is everything the Manager keeps about one session besides the
// store's own metadata.
type State struct {
	// Values are the application's key-value pairs.
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
}

// Codec encodes and decodes session state. Implementations must be safe for
// concurrent use.
type Codec interface {
	Encode(st *State) ([]byte, error)
	Decode(data []byte, st *State) error
}
