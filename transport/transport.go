// Package transport holds the contract of what carries a session token
// between client and server, Transport, and the Transports of httpsession
// besides its default cookie (httpsession.Cookie): Header for APIs whose
// clients send a bearer token, and Form for clients that cannot keep
// cookies.
package transport

import (
	"bytes"
	"cmp"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Transport carries the token between client and server. An httpsession
// Manager validates every token a Transport reads before it reaches a
// store, and a token it did not issue is never adopted. Set one in
// httpsession.Config.Transport.
type Transport interface {
	// ReadToken returns the token the request presents, or "".
	ReadToken(r *http.Request) string
	// WriteToken sends a new or renewed token with the response. expires
	// is when the client should forget it: the session's absolute
	// deadline, or zero for a token that ends with the browser session.
	WriteToken(w http.ResponseWriter, r *http.Request, token string, expires time.Time)
	// ClearToken tells the client to forget its token.
	ClearToken(w http.ResponseWriter, r *http.Request)
	// Vary returns the request header the token comes in, which the
	// Manager names in the Vary header of every response so that caches
	// keep the responses of different sessions apart; "" for none.
	Vary() string
}

var (
	_ Transport = Header{}
	_ Transport = Form{}
)

// Header reads the token from a request header and sends new tokens
// in a response header. It suits APIs whose clients are not browsers.
type Header struct {
	// Name is the request header. The default is "Authorization".
	Name string
	// Scheme is the auth scheme in front of the token. The default is
	// "Bearer" when Name is "Authorization" and none otherwise.
	Scheme string
	// Response is the response header that carries a new token. The
	// default is "Session-Token". A cleared token is sent as an empty value.
	Response string
}

// ReadToken returns the token of the request header.
func (t Header) ReadToken(r *http.Request) string {
	v := r.Header.Get(t.name())
	if s := t.scheme(); s != "" {
		if len(v) <= len(s) || !strings.EqualFold(v[:len(s)], s) || v[len(s)] != ' ' {
			return ""
		}
		v = v[len(s)+1:]
	}
	return strings.TrimSpace(v)
}

// WriteToken sets the response header to token.
func (t Header) WriteToken(w http.ResponseWriter, _ *http.Request, token string, _ time.Time) {
	w.Header().Set(t.response(), token)
}

// ClearToken sets the response header to an empty value.
func (t Header) ClearToken(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set(t.response(), "")
}

// Vary returns the request header.
func (t Header) Vary() string { return t.name() }

func (t Header) name() string { return cmp.Or(t.Name, "Authorization") }

func (t Header) scheme() string {
	if t.Scheme == "" && strings.EqualFold(t.name(), "Authorization") {
		return "Bearer"
	}
	return t.Scheme
}

func (t Header) response() string { return cmp.Or(t.Response, "Session-Token") }

// Form reads the token from a URL-encoded form field of the request
// body and, when Query is set, from the query string, as CGI sessions did.
// New tokens go out in a response header; the application puts
// Session.Token into its forms and links. Tokens in URLs leak through logs
// and Referer headers: prefer cookies, and enable this only where cookies
// cannot be used.
//
// The field is looked for in the first 4 KiB of the body only (put it
// first in the form), and the body is left whole for the handler: it parses
// the form itself, and its own limits (http.MaxBytesReader) and errors
// apply.
type Form struct {
	// Field is the form field and query parameter name. The default is
	// "session".
	Field string
	// Query also accepts the token from the query string.
	Query bool
	// Response is the response header that carries a new token. The default
	// is "Session-Token".
	Response string
}

// formPeek is how much of a form body Form reads for the token.
const formPeek = 4 << 10

// ReadToken returns the token of the form field or query parameter.
func (t Form) ReadToken(r *http.Request) string {
	field := cmp.Or(t.Field, "session")
	if r.Method == http.MethodPost && r.Body != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		head, err := io.ReadAll(io.LimitReader(r.Body, formPeek))
		// The handler reads the body from its start, and sees any error.
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		if v := formValue(string(head), field, err == nil && len(head) < formPeek); err == nil && v != "" {
			return v
		}
	}
	if t.Query {
		return r.URL.Query().Get(field)
	}
	return ""
}

// formValue returns the value of field in head, the start of a URL-encoded
// body; complete reports whether head is the whole body, else its last
// pair may be cut short and is not used.
func formValue(head, field string, complete bool) string {
	for head != "" {
		pair, rest, cut := strings.Cut(head, "&")
		if !cut && !complete {
			return ""
		}
		head = rest
		k, v, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(k); err != nil || k != field {
			continue
		}
		v, _ = url.QueryUnescape(v)
		return v
	}
	return ""
}

// WriteToken sets the response header to token.
func (t Form) WriteToken(w http.ResponseWriter, _ *http.Request, token string, _ time.Time) {
	w.Header().Set(cmp.Or(t.Response, "Session-Token"), token)
}

// ClearToken sets the response header to an empty value.
func (t Form) ClearToken(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set(cmp.Or(t.Response, "Session-Token"), "")
}

// Vary returns "": a form field is no header.
func (t Form) Vary() string { return "" }
