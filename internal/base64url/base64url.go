// Package base64url checks that a string is made of the base64url
// alphabet, the shape of every session token and of every signed cookie
// value. It runs on every token read and every cookie written, so it looks
// each byte up in a table.
package base64url

// Valid reports whether s holds base64url characters only, without
// padding.
func Valid(s string) bool {
	for i := 0; i < len(s); i++ {
		if !chars[s[i]] {
			return false
		}
	}
	return true
}

// chars marks the bytes of the base64url alphabet.
var chars = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
	}
	return t
}()
