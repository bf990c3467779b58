package httpsession

import (
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"
)

// Transport carries the token between client and server. The Manager
// validates every token a Transport reads before it reaches a store, and a
// token it did not issue is never adopted.
type Transport interface {
	// ReadToken returns the token the request presents, or "".
	ReadToken(r *http.Request) string
	// WriteToken sends a new or renewed token with the response. deadline
	// is the session's absolute expiry.
	WriteToken(w http.ResponseWriter, r *http.Request, token string, deadline time.Time)
	// ClearToken tells the client to forget its token.
	ClearToken(w http.ResponseWriter, r *http.Request)
}

// Cookie configures the session cookie of the default transport.
type Cookie struct {
	// Name is the cookie name. The default is "session". A name starting
	// with "__Host-" forces Secure and Path=/ and forbids Domain; one
	// starting with "__Secure-" forces Secure.
	Name string
	// Domain is the cookie's Domain attribute. The default, empty, sends the
	// cookie to the issuing host only.
	Domain string
	// Path is the cookie's Path attribute. The default is "/".
	Path string
	// Secure marks the cookie Secure. The cookie is also Secure whenever the
	// request came over TLS. Set it in production behind a TLS-terminating
	// proxy.
	Secure bool
	// AllowScripts drops the HttpOnly attribute so that page scripts can
	// read the cookie. Leave it false.
	AllowScripts bool
	// SameSite is the SameSite attribute. The default is Lax.
	SameSite http.SameSite
	// Persist makes the cookie outlive the browser session: it then carries
	// Expires and Max-Age set to the session's absolute deadline. By default
	// the cookie is a browser-session cookie.
	Persist bool
}

// Key is one key pair for signing, and optionally encrypting, the session
// cookie with gorilla/securecookie.
type Key struct {
	// Hash authenticates the cookie with HMAC-SHA256. It must be at least
	// 32 bytes long.
	Hash []byte
	// Block, when set, also encrypts the cookie with AES; it must be 16, 24
	// or 32 bytes long.
	Block []byte
}

// cookieTransport is the default Transport: one cookie, signed when keys are
// configured.
type cookieTransport struct {
	c      Cookie
	secure bool // forced by a __Host- or __Secure- prefix
	codecs []securecookie.Codec
	now    func() time.Time
}

func (t *cookieTransport) ReadToken(r *http.Request) string {
	if len(t.codecs) == 0 {
		return firstCookie(r.Header["Cookie"], t.c.Name)
	}
	// With duplicate cookies of one name (cookie tossing from a sibling
	// domain), take the first one that verifies. Each key is tried on its
	// own rather than with DecodeMulti: a signature does not say whether the
	// value is encrypted, so after a rotation from signing to encryption
	// with the same hash key, the new key verifies an old cookie and
	// decrypts it to garbage; the old key must still get its turn.
	for _, c := range r.CookiesNamed(t.c.Name) {
		for _, codec := range t.codecs {
			var raw []byte
			if codec.Decode(t.c.Name, c.Value, &raw) == nil && validToken(string(raw), true) {
				return string(raw)
			}
		}
	}
	return ""
}

// firstCookie returns the value of the first cookie called name in the
// Cookie header lines, without parsing the others: r.Cookie allocates for
// every cookie of the request. Quotes around the value are dropped as
// net/http does; what the value may contain is checked by the Manager.
func firstCookie(lines []string, name string) string {
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			n, v, ok := strings.Cut(part, "=")
			if !ok || n != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v
		}
	}
	return ""
}

func (t *cookieTransport) WriteToken(w http.ResponseWriter, r *http.Request, token string, deadline time.Time) {
	value := token
	if len(t.codecs) > 0 {
		v, err := securecookie.EncodeMulti(t.c.Name, []byte(token), t.codecs...)
		if err != nil {
			// Only a broken key configuration gets here, and New checked
			// the keys; send no cookie rather than an unsigned one.
			return
		}
		value = v
	}
	c := t.cookie(r, value)
	if t.c.Persist {
		c.Expires = deadline.UTC()
		c.MaxAge = int(deadline.Sub(t.now()).Seconds())
		if c.MaxAge <= 0 {
			c.MaxAge = -1
		}
	}
	http.SetCookie(w, c)
}

func (t *cookieTransport) ClearToken(w http.ResponseWriter, r *http.Request) {
	c := t.cookie(r, "")
	c.MaxAge = -1
	c.Expires = time.Unix(1, 0)
	http.SetCookie(w, c)
}

func (t *cookieTransport) cookie(r *http.Request, value string) *http.Cookie {
	return &http.Cookie{
		Name:     t.c.Name,
		Value:    value,
		Domain:   t.c.Domain,
		Path:     t.c.Path,
		Secure:   t.secure || t.c.Secure || r.TLS != nil,
		HttpOnly: !t.c.AllowScripts,
		SameSite: t.c.SameSite,
	}
}

func (t *cookieTransport) vary() string { return "Cookie" }

// HeaderTransport reads the token from a request header and sends new tokens
// in a response header. It suits APIs whose clients are not browsers.
type HeaderTransport struct {
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
func (t HeaderTransport) ReadToken(r *http.Request) string {
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
func (t HeaderTransport) WriteToken(w http.ResponseWriter, _ *http.Request, token string, _ time.Time) {
	w.Header().Set(t.response(), token)
}

// ClearToken sets the response header to an empty value.
func (t HeaderTransport) ClearToken(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set(t.response(), "")
}

func (t HeaderTransport) vary() string { return t.name() }

func (t HeaderTransport) name() string {
	if t.Name == "" {
		return "Authorization"
	}
	return t.Name
}

func (t HeaderTransport) scheme() string {
	if t.Scheme == "" && strings.EqualFold(t.name(), "Authorization") {
		return "Bearer"
	}
	return t.Scheme
}

func (t HeaderTransport) response() string {
	if t.Response == "" {
		return "Session-Token"
	}
	return t.Response
}

// FormTransport reads the token from a URL-encoded form field of the request
// body and, when Query is set, from the query string, as CGI sessions did.
// New tokens go out in a response header; the application puts
// Session.Token into its forms and links. Tokens in URLs leak through logs
// and Referer headers: prefer cookies, and enable this only where cookies
// cannot be used.
type FormTransport struct {
	// Field is the form field and query parameter name. The default is
	// "session".
	Field string
	// Query also accepts the token from the query string.
	Query bool
	// Response is the response header that carries a new token. The default
	// is "Session-Token".
	Response string
}

// ReadToken returns the token of the form field or query parameter.
func (t FormTransport) ReadToken(r *http.Request) string {
	field := t.Field
	if field == "" {
		field = "session"
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		if err := r.ParseForm(); err == nil {
			if v := r.PostForm.Get(field); v != "" {
				return v
			}
		}
	}
	if t.Query {
		return r.URL.Query().Get(field)
	}
	return ""
}

// WriteToken sets the response header to token.
func (t FormTransport) WriteToken(w http.ResponseWriter, _ *http.Request, token string, _ time.Time) {
	w.Header().Set(t.response(), token)
}

// ClearToken sets the response header to an empty value.
func (t FormTransport) ClearToken(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set(t.response(), "")
}

func (t FormTransport) response() string {
	if t.Response == "" {
		return "Session-Token"
	}
	return t.Response
}
