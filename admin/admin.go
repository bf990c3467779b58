// Package admin serves an operator's view of a Manager's sessions over
// HTTP: a JSON API through which programs in any language can list, read
// and end sessions, and a small HTML page for people.
//
// Mount the handler behind your own authentication; Options.Authorize is
// required and there is no default that lets anyone in:
//
//	h, err := admin.New(m, admin.Options{Prefix: "/admin", Authorize: isOperator})
//	mux.Handle("/admin/", h) // or http.StripPrefix("/admin", h): both work
//
// Do not wrap the admin handler in m.Handler: it reads sessions, it has
// none of its own.
//
// Endpoints, relative to Options.Prefix ({key} is a store key, 64
// lowercase hex characters; {owner} is path-escaped):
//
//	GET    /                        HTML page: sessions, owner search (?owner=), delete buttons
//	GET    /sessions?limit=N        {"sessions": [...], "truncated": bool}, without values
//	GET    /sessions/{key}          one session, with values
//	DELETE /sessions/{key}          {"destroyed": 1}
//	GET    /owners/{owner}?limit=N  {"sessions": [...], "truncated": bool}, without values
//	DELETE /owners/{owner}          {"destroyed": n}
//	GET    /stats                   Manager.Stats, plus "live" (a count of live sessions)
//	POST   /sessions/{key}/delete   the HTML page's delete button: 303 back to the page
//	POST   /owners/{owner}/delete   the HTML page's "sign out everywhere": 303 back
//
// A session is a JSON form of httpsession.SessionInfo. limit defaults to 100
// and is capped at 1000; "truncated" says more sessions were left out.
// Lists come from the store in no particular order and are then sorted by
// last activity, newest first, so a truncated list is a sample, not the
// most recent sessions. "live" counts at most 10,000 sessions and is absent
// for a store that cannot list; "live_capped" says the count stopped there.
//
// Errors are {"error": "..."} with status 400 (malformed key, owner or
// limit), 403 (not authorized, or a cross-origin browser request), 404
// (no such session), 405, 501 (the store cannot list, which the
// message names as httpsession.ErrNotSupported), 503 (the store is
// unavailable: httpsession.ErrUnavailable), 504 (the store timed out)
// or 500 (a store failure; the details go to Options.Logger, not to the
// client).
//
// Every response carries Cache-Control: no-store, X-Content-Type-Options:
// nosniff and a Content-Security-Policy that forbids scripts and framing.
// Requests that change state must be DELETE or POST, and cross-origin
// browser requests are refused with net/http's CrossOriginProtection, so a
// page on another site cannot make an operator's browser delete sessions.
// Every deletion is logged to Options.Logger for the audit trail.
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/httpsession/httpsession"
)

// Options configure the admin handler.
type Options struct {
	// Authorize reports whether the request comes from an operator. It is
	// required: New fails without it. It runs before anything else, and a
	// request it refuses gets 403 and no data. Compare secrets in it with
	// crypto/subtle.ConstantTimeCompare, on SHA-256 digests so that the
	// time taken does not tell the length of the secret. For HTTP Basic
	// authentication, answer 401 with WWW-Authenticate in front of the
	// handler, so that a browser asks for the password.
	Authorize func(r *http.Request) bool
	// Prefix is the path under which the handler is reached from outside,
	// such as "/admin"; links and redirects of the HTML page start with
	// it. The handler accepts request paths with the prefix (mounted as
	// mux.Handle("/admin/", h)) and without it (mounted with
	// http.StripPrefix("/admin", h)). Its first segment may not be one of
	// the handler's own (sessions, owners, stats), which would make the
	// two ambiguous. The default, "", mounts the handler at the root.
	Prefix string
	// Timeout bounds the store work of one request. The default is 10
	// seconds.
	Timeout time.Duration
	// Logger receives one line per deletion (the audit trail) and the
	// details of store failures. The default is slog.Default().
	Logger *slog.Logger
}

// Bounds on what one request reads from the store.
const (
	defaultLimit = 100
	maxLimit     = 1000
	// liveCountCap bounds the scan behind the live count of GET /stats.
	liveCountCap = 10_000
	// maxOwnerLen bounds an owner taken from a path.
	maxOwnerLen = 1024
	// maxFormBytes bounds the body of a form post from the page.
	maxFormBytes = 4 << 10
)

// handler is the http.Handler that New returns.
type handler struct {
	m         *httpsession.Manager
	authorize func(*http.Request) bool
	prefix    string
	timeout   time.Duration
	log       *slog.Logger
	csrf      *http.CrossOriginProtection
	mux       *http.ServeMux
}

// New returns the admin handler for m. It fails when opts.Authorize is nil
// or opts.Prefix is not a clean absolute path.
func New(m *httpsession.Manager, opts Options) (http.Handler, error) {
	if m == nil {
		return nil, errors.New("httpsession/admin: New needs a Manager")
	}
	if opts.Authorize == nil {
		return nil, errors.New("httpsession/admin: Options.Authorize is required; there is no default that lets anyone in")
	}
	prefix, err := cleanPrefix(opts.Prefix)
	if err != nil {
		return nil, err
	}
	h := &handler{
		m: m, authorize: opts.Authorize, prefix: prefix, timeout: opts.Timeout,
		log: opts.Logger, csrf: http.NewCrossOriginProtection(), mux: http.NewServeMux(),
	}
	if h.timeout <= 0 {
		h.timeout = 10 * time.Second
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	// Patterns carry no method: each handler answers a wrong one with a
	// JSON 405, where ServeMux would answer in plain text.
	h.mux.HandleFunc("/{$}", h.page)
	h.mux.HandleFunc("/sessions", h.sessions)
	h.mux.HandleFunc("/sessions/{key}", h.session)
	h.mux.HandleFunc("/sessions/{key}/delete", h.sessionForm)
	h.mux.HandleFunc("/owners/{owner}", h.owner)
	h.mux.HandleFunc("/owners/{owner}/delete", h.ownerForm)
	h.mux.HandleFunc("/stats", h.stats)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint")
	})
	return h, nil
}

// cleanPrefix checks a mount path and returns it without a trailing slash.
func cleanPrefix(p string) (string, error) {
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return "", nil
	}
	bad := p[0] != '/' || path.Clean(p) != p || strings.IndexFunc(p, func(c rune) bool {
		return !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("/-._~", c))
	}) >= 0
	if bad {
		return "", fmt.Errorf("httpsession/admin: Options.Prefix %q must be a clean absolute path of letters, digits and -._~", p)
	}
	first, _, _ := strings.Cut(p[1:], "/")
	switch first {
	case "sessions", "owners", "stats":
		return "", fmt.Errorf("httpsession/admin: Options.Prefix %q starts with one of the handler's own paths", p)
	}
	return p, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	hdr.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	if !h.authorize(r) {
		writeError(w, http.StatusForbidden, "forbidden")
		return
	}
	if err := h.csrf.Check(r); err != nil {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	r = h.stripPrefix(r)
	// ServeMux would redirect an unclean path to a Location that lacks the
	// prefix; no client of this API needs one.
	if p := r.URL.Path; p != "/" && path.Clean(p) != p {
		writeError(w, http.StatusNotFound, "no such endpoint")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// stripPrefix returns r with the prefix cut from its path, or r itself
// when the path lacks it (the handler was mounted with http.StripPrefix).
func (h *handler) stripPrefix(r *http.Request) *http.Request {
	if h.prefix == "" {
		return r
	}
	rest, ok := strings.CutPrefix(r.URL.Path, h.prefix)
	if !ok || rest != "" && rest[0] != '/' {
		return r
	}
	if rest == "" {
		rest = "/"
	}
	u := *r.URL
	u.Path = rest
	// The prefix has no character that escapes, so it starts RawPath too.
	u.RawPath = ""
	if raw, ok := strings.CutPrefix(r.URL.RawPath, h.prefix); ok {
		u.RawPath = raw
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.URL = &u
	return r2
}

// context bounds the store work of one request.
func (h *handler) context(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), h.timeout)
}

// methods reports whether r uses one of allowed (GET allows HEAD); if not,
// it answers 405.
func methods(w http.ResponseWriter, r *http.Request, allowed ...string) bool {
	for _, m := range allowed {
		if r.Method == m || r.Method == http.MethodHead && m == http.MethodGet {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(allowed, ", "))
	writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	return false
}

// pathKey returns the {key} of r if it is a store key: 64 lowercase hex
// characters, the form httpsession.StoreKey gives. Anything else is
// answered with 400 and never reaches the store.
func pathKey(w http.ResponseWriter, r *http.Request) (string, bool) {
	key := r.PathValue("key")
	ok := len(key) == 64
	for i := 0; ok && i < len(key); i++ {
		c := key[i]
		ok = '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
	}
	if !ok {
		writeError(w, http.StatusBadRequest, "a session key is 64 lowercase hex characters")
		return "", false
	}
	return key, true
}

// pathOwner returns the {owner} of r, or answers 400 for one too long.
func pathOwner(w http.ResponseWriter, r *http.Request) (string, bool) {
	owner := r.PathValue("owner")
	if owner == "" || len(owner) > maxOwnerLen {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("an owner is 1 to %d bytes", maxOwnerLen))
		return "", false
	}
	return owner, true
}

// limit returns the limit query parameter of r, defaultLimit when absent
// and capped at maxLimit, or answers 400 for one that is not a positive
// integer.
func limit(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return defaultLimit, true
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			n = 0
			break
		}
		n = min(n*10+int(c-'0'), maxLimit+1)
	}
	if n <= 0 {
		writeError(w, http.StatusBadRequest, "limit must be a positive integer")
		return 0, false
	}
	return min(n, maxLimit), true
}

// pageURL is the address of the HTML page with query q.
func (h *handler) pageURL(q url.Values) string {
	if len(q) == 0 {
		return h.prefix + "/"
	}
	return h.prefix + "/?" + q.Encode()
}
