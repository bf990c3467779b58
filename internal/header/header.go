// Package header writes the response headers of the session middleware
// with fewer allocations than net/http's helpers: the Set-Cookie header
// with the bytes http.SetCookie writes, formatted in one buffer (the Path
// and Domain attributes are formatted once, by net/http, and a token or a
// signed value needs no quoting or cleaning), and Vary and Cache-Control
// with value slices the caller keeps in an allocation of its own.
package header

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/httpsession/httpsession/internal/base64url"
)

// CookieAttrs returns the Path and Domain attributes of a cookie as
// net/http formats them ("; Path=/; Domain=example.com"), or "" for a
// name net/http refuses.
func CookieAttrs(name, path, domain string) string {
	full := (&http.Cookie{Name: name, Path: path, Domain: domain}).String()
	if full == "" {
		return ""
	}
	return strings.TrimPrefix(full, name+"=")
}

// SetCookie adds hc to w's headers as http.SetCookie does, with the same
// bytes. attrs is CookieAttrs of hc's name, path and domain; with attrs
// "", or a value of other characters than base64url and '=', SetCookie
// leaves the work to http.SetCookie.
func SetCookie(w http.ResponseWriter, hc *http.Cookie, attrs string) {
	if attrs == "" || !plain(hc.Value) {
		http.SetCookie(w, hc)
		return
	}
	var buf [256]byte
	b := append(buf[:0], hc.Name...)
	b = append(b, '=')
	b = append(b, hc.Value...)
	b = append(b, attrs...)
	if hc.Expires.Year() >= 1601 { // net/http's validCookieExpires
		b = hc.Expires.UTC().AppendFormat(append(b, "; Expires="...), http.TimeFormat)
	}
	switch {
	case hc.MaxAge > 0:
		b = strconv.AppendInt(append(b, "; Max-Age="...), int64(hc.MaxAge), 10)
	case hc.MaxAge < 0:
		b = append(b, "; Max-Age=0"...)
	}
	if hc.HttpOnly {
		b = append(b, "; HttpOnly"...)
	}
	if hc.Secure {
		b = append(b, "; Secure"...)
	}
	switch hc.SameSite {
	case http.SameSiteNoneMode:
		b = append(b, "; SameSite=None"...)
	case http.SameSiteLaxMode:
		b = append(b, "; SameSite=Lax"...)
	case http.SameSiteStrictMode:
		b = append(b, "; SameSite=Strict"...)
	}
	if hc.Partitioned {
		b = append(b, "; Partitioned"...)
	}
	h := w.Header()
	h["Set-Cookie"] = append(h["Set-Cookie"], string(b))
}

// plain reports whether net/http sends the cookie value v as it is:
// base64url characters and '=' padding only.
func plain(v string) bool {
	return base64url.Valid(strings.TrimRight(v, "="))
}

// Add adds v under the canonical key k, as h.Add does; a header that was
// not there yet takes its value slice from slot. Code that appends to it
// later gets a slice of its own (its capacity is 1).
func Add(h http.Header, k, v string, slot *[1]string) {
	if old := h[k]; len(old) > 0 {
		h[k] = append(old, v)
		return
	}
	slot[0] = v
	h[k] = slot[:]
}

// Set sets the canonical key k to v, as h.Set does, with its value slice
// in slot.
func Set(h http.Header, k, v string, slot *[1]string) {
	slot[0] = v
	h[k] = slot[:]
}
