package httpsession

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/securecookie"

	"github.com/httpsession/httpsession/internal/base64url"
	"github.com/httpsession/httpsession/internal/header"
)

// Cookie is the default transport.Transport: the token in one cookie, signed (and
// optionally encrypted) when Keys are given. To change its defaults, set
// Config.Transport to a *Cookie; New checks it and works on a copy.
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
	// Partitioned sets the Partitioned attribute (CHIPS): embedded in
	// another site, the browser keeps a separate cookie per top-level
	// site. It needs Secure.
	Partitioned bool
	// Persist makes the cookie outlive the browser session: it then carries
	// Expires and Max-Age set to the session's absolute deadline. By default
	// the cookie is a browser-session cookie. Session.SetLifetime chooses
	// per session.
	Persist bool
	// Keys sign (and, with Block keys, encrypt) the cookie, newest first:
	// the first key signs, every key verifies, so keys can be rotated. The
	// default, none, sends the bare token, which is already unguessable;
	// signing lets forged cookies be refused without a store call.
	Keys []Key

	secure bool   // forced by a __Host- or __Secure- prefix
	custom bool   // tokens come from Config.NewToken
	attrs  string // "; Path=...; Domain=..." as net/http writes them; "" with a name it refuses
	codecs []securecookie.Codec
	now    func() time.Time // set once the cookie is prepared
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

// prepare returns a checked copy of c with its defaults filled in.
func (c *Cookie) prepare(now func() time.Time, custom bool) (*Cookie, error) {
	p := *c
	p.Name, p.Path = cmp.Or(p.Name, "session"), cmp.Or(p.Path, "/")
	p.SameSite = cmp.Or(p.SameSite, http.SameSiteLaxMode)
	p.now, p.custom, p.codecs = now, custom, nil
	p.secure = strings.HasPrefix(p.Name, "__Host-") || strings.HasPrefix(p.Name, "__Secure-")
	// Path and Domain are the same in every cookie: net/http checks and
	// formats them once here.
	p.attrs = header.CookieAttrs(p.Name, p.Path, p.Domain)
	switch {
	case p.SameSite == http.SameSiteNoneMode && !p.Secure:
		return nil, errors.New("httpsession: SameSite=None cookies must be Secure")
	case p.Partitioned && !p.Secure && !p.secure:
		return nil, errors.New("httpsession: Partitioned cookies must be Secure")
	case strings.HasPrefix(p.Name, "__Host-") && (p.Domain != "" || p.Path != "/"):
		return nil, fmt.Errorf("httpsession: cookie %q: __Host- cookies need Path=/ and no Domain", p.Name)
	}
	for i, k := range p.Keys {
		if len(k.Hash) < 32 {
			return nil, fmt.Errorf("httpsession: Keys[%d].Hash must be at least 32 bytes", i)
		}
		if n := len(k.Block); n != 0 && n != 16 && n != 24 && n != 32 {
			return nil, fmt.Errorf("httpsession: Keys[%d].Block must be 16, 24 or 32 bytes", i)
		}
		sc := securecookie.New(k.Hash, k.Block)
		sc.SetSerializer(securecookie.NopEncoder{})
		// A session's own lifetime may be longer than any default: the
		// server-side deadline decides, not the signature's age.
		sc.MaxAge(0)
		p.codecs = append(p.codecs, sc)
	}
	return &p, nil
}

// ready returns c prepared: itself inside a Manager, else a checked copy
// (nil if c is invalid), so that a Cookie used on its own still signs.
func (c *Cookie) ready() *Cookie {
	if c.now != nil {
		return c
	}
	p, _ := c.prepare(time.Now, true)
	return p
}

// maxVerified bounds the duplicate cookies whose signature is checked.
const maxVerified = 3

// ReadToken returns the token of the request's cookie. Among cookies of
// the same name (cookie tossing from a sibling domain) it takes the first
// well-formed one, and checks the signatures of at most three.
func (c *Cookie) ReadToken(r *http.Request) string {
	if c = c.ready(); c == nil {
		return ""
	}
	// The header is scanned by hand: r.Cookie allocates for every cookie
	// of the request. Quotes around a value are dropped as net/http does.
	verified := 0
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			n, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || n != c.Name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if token, last := c.token(v, &verified); token != "" || last {
				return token
			}
		}
	}
	return ""
}

// token returns the token in the cookie value v, or "" for a value that
// holds none; last reports that no further duplicate may be looked at.
func (c *Cookie) token(v string, verified *int) (token string, last bool) {
	if len(c.codecs) == 0 {
		if validToken(v, c.custom) {
			return v, true
		}
		return "", false
	}
	if len(v) < tokenLen || len(v) > 4096 || !base64url.Valid(strings.TrimRight(v, "=")) {
		return "", false // cannot be a signed value: costs no verification
	}
	if *verified++; *verified > maxVerified {
		return "", true
	}
	// Each key is tried on its own rather than with DecodeMulti: a
	// signature does not say whether the value is encrypted, so after a
	// rotation from signing to encryption with the same hash key, the new
	// key verifies an old cookie and decrypts it to garbage; the old key
	// must still get its turn.
	for _, sc := range c.codecs {
		var raw []byte
		if sc.Decode(c.Name, v, &raw) == nil && validToken(string(raw), c.custom) {
			return string(raw), true
		}
	}
	return "", false
}

// WriteToken sets the cookie to token, signed when Keys are given.
func (c *Cookie) WriteToken(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	if c = c.ready(); c == nil {
		return
	}
	value := token
	if len(c.codecs) > 0 {
		v, err := securecookie.EncodeMulti(c.Name, []byte(token), c.codecs...)
		if err != nil {
			// Only a broken key configuration gets here, and New checked
			// the keys; send no cookie rather than an unsigned one.
			return
		}
		value = v
	}
	hc := c.cookie(r, value)
	if !expires.IsZero() {
		hc.Expires = expires.UTC()
		hc.MaxAge = max(int(expires.Sub(c.now()).Round(time.Second)/time.Second), -1)
		if hc.MaxAge == 0 {
			hc.MaxAge = -1
		}
	}
	header.SetCookie(w, hc, c.attrs)
}

// ClearToken expires the cookie.
func (c *Cookie) ClearToken(w http.ResponseWriter, r *http.Request) {
	if c = c.ready(); c == nil {
		return
	}
	hc := c.cookie(r, "")
	hc.MaxAge = -1
	hc.Expires = time.Unix(1, 0)
	header.SetCookie(w, hc, c.attrs)
}

func (c *Cookie) cookie(r *http.Request, value string) *http.Cookie {
	return &http.Cookie{
		Name:        c.Name,
		Value:       value,
		Domain:      c.Domain,
		Path:        c.Path,
		Secure:      c.secure || c.Secure || r.TLS != nil,
		HttpOnly:    !c.AllowScripts,
		SameSite:    c.SameSite,
		Partitioned: c.Partitioned,
	}
}

// Vary returns "Cookie".
func (c *Cookie) Vary() string { return "Cookie" }
