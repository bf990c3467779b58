package open

import "strings"

// Redact hides the password of a store URL, for log lines and error
// messages: "redis://:secret@host/0" becomes "redis://:xxxxx@host/0". Text
// that holds no password comes back unchanged.
// The user information ends at the last "@" before the last "/": a
// go-sql-driver DSN's user name and password may hold "/", "?" and "#".
func Redact(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	rest := raw[i+3:]
	end := strings.LastIndexByte(rest, '/')
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return raw
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return raw
	}
	return raw[:i+3] + rest[:colon+1] + "xxxxx" + rest[at:]
}
