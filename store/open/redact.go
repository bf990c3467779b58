package open

import "strings"

// Redact hides the passwords of a store URL, for log lines and error
// messages: the one in its user information ("redis://:secret@host/0"
// becomes "redis://:xxxxx@host/0") and the values of query parameters
// named password or ending in _password (a redis+sentinel:// URL's
// sentinel_password, a postgres:// URL's password). Text that holds no
// password comes back unchanged.
func Redact(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	head, rest := raw[:i+3], redactUser(raw[i+3:])
	// The query starts at the first "?" after the user information, which
	// may itself hold one (a go-sql-driver DSN's password).
	from := strings.LastIndexByte(rest, '@') + 1
	q := strings.IndexByte(rest[from:], '?')
	if q < 0 {
		return head + rest
	}
	q += from + 1
	params := strings.Split(rest[q:], "&")
	for j, p := range params {
		name, _, ok := strings.Cut(p, "=")
		if lower := strings.ToLower(name); ok && (lower == "password" || strings.HasSuffix(lower, "_password")) {
			params[j] = name + "=xxxxx"
		}
	}
	return head + rest[:q] + strings.Join(params, "&")
}

// redactUser hides the password of the user information at the start of
// rest, the part of a URL after "://".
// The user information ends at the last "@" before the last "/": a
// go-sql-driver DSN's user name and password may hold "/", "?" and "#".
func redactUser(rest string) string {
	end := strings.LastIndexByte(rest, '/')
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return rest
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return rest
	}
	return rest[:colon+1] + "xxxxx" + rest[at:]
}
