package base64url_test

import (
	"strings"
	"testing"

	"github.com/httpsession/httpsession/internal/base64url"
)

// The alphabet of RFC 4648, section 5.
const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// Valid accepts exactly the bytes of the unpadded base64url alphabet.
func TestValid(t *testing.T) {
	for c := 0; c < 256; c++ {
		s := string([]byte{byte(c)})
		if got, want := base64url.Valid(s), strings.Contains(alphabet, s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
	if !base64url.Valid("") || !base64url.Valid(alphabet) || base64url.Valid("abc=") || base64url.Valid("a b") {
		t.Error("Valid of whole strings")
	}
}
