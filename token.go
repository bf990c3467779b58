package httpsession

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"

	"github.com/httpsession/httpsession/internal/base64url"
)

// tokenBytes is the entropy of a token: 256 bits.
const tokenBytes = 32

// tokenLen is the length of a default token: 32 bytes in unpadded base64url.
const tokenLen = 43

// Bounds on tokens from a custom Config.NewToken: at least 128 bits of
// base64url, and short enough to be harmless in a header or a log of its
// length.
const (
	minCustomTokenLen = 22
	maxCustomTokenLen = 128
)

// newToken returns 32 bytes from crypto/rand in unpadded base64url.
// crypto/rand.Read never fails on supported platforms (it crashes the program
// rather than return weak bytes), so there is no error to handle.
func newToken() string {
	var b [tokenBytes]byte
	rand.Read(b[:])
	var t [tokenLen]byte // encoded on the stack: one allocation, the string
	base64.RawURLEncoding.Encode(t[:], b[:])
	return string(t[:])
}

// validToken reports whether t has the shape of a token: base64url
// characters only, 43 long for the built-in generator, or within the bounds
// for a custom one. Anything else never reaches a store.
func validToken(t string, custom bool) bool {
	if custom {
		if len(t) < minCustomTokenLen || len(t) > maxCustomTokenLen {
			return false
		}
	} else if len(t) != tokenLen {
		return false
	}
	return base64url.Valid(t)
}

// StoreKey returns the key under which the session of token is stored: the
// lowercase hex SHA-256 of the token. A dump of a store therefore yields no
// usable token, and a key can never carry a path or a protocol character.
func StoreKey(token string) string {
	// Hashing from a stack copy keeps the token's bytes off the heap.
	var in [maxCustomTokenLen]byte
	var sum [sha256.Size]byte
	if len(token) <= len(in) {
		sum = sha256.Sum256(in[:copy(in[:], token)])
	} else {
		sum = sha256.Sum256([]byte(token))
	}
	var buf [2 * sha256.Size]byte
	hex.Encode(buf[:], sum[:])
	return string(buf[:])
}

// logID returns a short, non-reversible handle for a token that is safe to
// put in a log line: the first 12 hex characters of its store key.
func logID(token string) string {
	if token == "" {
		return ""
	}
	return StoreKey(token)[:12]
}
