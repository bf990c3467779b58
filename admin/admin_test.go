package admin_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/admin"
	"github.com/httpsession/httpsession/sessions"
	"github.com/httpsession/httpsession/store/memstore"
)

const operator = "Bearer operator-secret"

// clock is a fake clock that moves one second at every reading, so that
// sessions made one after another have distinct times.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// spyStore is a memstore that counts the calls naming a key, and can be
// told to fail its listing.
type spyStore struct {
	*memstore.Store
	keyCalls atomic.Int64
	listErr  error
}

func (s *spyStore) Get(ctx context.Context, key string) (httpsession.Record, error) {
	s.keyCalls.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *spyStore) Delete(ctx context.Context, key string) error {
	s.keyCalls.Add(1)
	return s.Store.Delete(ctx, key)
}

func (s *spyStore) List(ctx context.Context, fn func(string, httpsession.Record) bool) error {
	if s.listErr != nil {
		return s.listErr
	}
	return s.Store.List(ctx, fn)
}

// plainStore has only the three methods of httpsession.Store: it cannot
// list and has no owner index.
type plainStore struct{ httpsession.Store }

// syncBuffer is a bytes.Buffer for a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type env struct {
	t     *testing.T
	m     *httpsession.Manager
	admin http.Handler
	app   http.Handler
	spy   *spyStore
}

// newEnv returns a Manager on a memstore, the admin handler at the root
// and an app that makes sessions. wrap, if not nil, changes the store the
// Manager sees.
func newEnv(t *testing.T, opts admin.Options, wrap func(*spyStore) httpsession.Store) *env {
	t.Helper()
	c := &clock{t: time.Now()}
	ms := memstore.New(memstore.Options{Now: c.Now})
	t.Cleanup(func() { ms.Close() })
	spy := &spyStore{Store: ms}
	var store httpsession.Store = spy
	if wrap != nil {
		store = wrap(spy)
	}
	m, err := httpsession.New(httpsession.Config{Store: store, Client: httpsession.Client{Record: true}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if opts.Authorize == nil {
		opts.Authorize = func(r *http.Request) bool { return r.Header.Get("Authorization") == operator }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h, err := admin.New(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	app := http.NewServeMux()
	app.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		if owner := r.FormValue("owner"); owner != "" {
			s.SetOwner(owner)
		}
		s.Set("cart", []string{"apple", "pear"})
		s.Set("note", r.FormValue("note"))
		if r.FormValue("odd") != "" {
			s.Set("odd", complex(1, 2))
		}
	})
	return &env{t: t, m: m, admin: h, app: m.Handler(app), spy: spy}
}

// login makes a session through the middleware and returns its store key.
func (e *env) login(owner, userAgent string, extra ...string) string {
	e.t.Helper()
	form := url.Values{"owner": {owner}, "note": {"hello"}}
	for _, x := range extra {
		form.Set(x, "1")
	}
	r := httptest.NewRequest("POST", "/login?"+form.Encode(), nil)
	r.Header.Set("User-Agent", userAgent)
	w := httptest.NewRecorder()
	e.app.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		if c.Name == "session" {
			return httpsession.StoreKey(c.Value)
		}
	}
	e.t.Fatalf("login %q: no session cookie (status %d)", owner, w.Code)
	return ""
}

// do sends an authorized request to the admin handler.
func (e *env) do(method, target string, header ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	return serve(e.admin, method, target, append([]string{"Authorization", operator}, header...)...)
}

// serve sends a request with the given header pairs to h.
func serve(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(method, target, body)
	if method == "POST" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decode checks the status and the JSON headers of w and decodes its body.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder, status int) T {
	t.Helper()
	var v T
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	return v
}

type sessionList struct {
	Sessions  []httpsession.SessionInfo `json:"sessions"`
	Truncated bool                      `json:"truncated"`
}

type errorBody struct {
	Error string `json:"error"`
}

func TestNewNeedsAuthorize(t *testing.T) {
	ms := memstore.New(memstore.Options{})
	defer ms.Close()
	m, err := httpsession.New(httpsession.Config{Store: ms})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if h, err := admin.New(m, admin.Options{}); err == nil || h != nil {
		t.Fatalf("New without Authorize = %v, %v; want an error", h, err)
	}
	yes := func(*http.Request) bool { return true }
	for prefix, ok := range map[string]bool{
		"": true, "/": true, "/admin": true, "/admin/": true, "/ops/sessions-admin": true,
		"admin": false, "/a/../b": false, "//evil.example": false, "/a b": false,
		"/a%2F": false, "/sessions": false, "/owners/x": false, "/stats": false,
	} {
		_, err := admin.New(m, admin.Options{Authorize: yes, Prefix: prefix})
		if (err == nil) != ok {
			t.Errorf("Prefix %q: err = %v, want ok = %v", prefix, err, ok)
		}
	}
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	key := e.login("ann", "phone")
	for _, req := range []struct{ method, target string }{
		{"GET", "/"}, {"GET", "/sessions"}, {"GET", "/sessions/" + key}, {"DELETE", "/sessions/" + key},
		{"POST", "/sessions/" + key + "/delete"}, {"GET", "/owners/ann"}, {"DELETE", "/owners/ann"},
		{"POST", "/owners/ann/delete"}, {"GET", "/stats"}, {"GET", "/nowhere"},
	} {
		for _, auth := range []string{"", "Bearer wrong"} {
			w := serve(e.admin, req.method, req.target, "Authorization", auth)
			got := decode[errorBody](t, w, http.StatusForbidden)
			if got.Error != "forbidden" || strings.Contains(w.Body.String(), "ann") {
				t.Errorf("%s %s: body %s", req.method, req.target, w.Body)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("%s %s: Cache-Control %q", req.method, req.target, w.Header().Get("Cache-Control"))
			}
		}
	}
	if e.spy.keyCalls.Load() != 0 {
		t.Errorf("unauthorized requests made %d store calls", e.spy.keyCalls.Load())
	}
	if _, err := sessions.Inspect(context.Background(), e.m, key); err != nil {
		t.Errorf("session gone after unauthorized deletes: %v", err)
	}
}

func TestListSessions(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	e.login("ann", "phone")
	e.login("bob", "laptop")
	last := e.login("", "tablet")

	got := decode[sessionList](t, e.do("GET", "/sessions"), http.StatusOK)
	if len(got.Sessions) != 3 || got.Truncated {
		t.Fatalf("got %d sessions, truncated %v; want 3, false", len(got.Sessions), got.Truncated)
	}
	if s := got.Sessions[0]; s.Key != last || s.UserAgent != "tablet" || s.IP != "192.0.2.1" || s.Size == 0 || s.Created.IsZero() || s.Expires.IsZero() {
		t.Errorf("newest session first: %+v", s)
	}
	for _, s := range got.Sessions {
		if s.Values != nil {
			t.Errorf("list shows values: %+v", s)
		}
	}
	if strings.Contains(e.do("GET", "/sessions").Body.String(), "apple") {
		t.Error("list body carries session values")
	}

	got = decode[sessionList](t, e.do("GET", "/sessions?limit=2"), http.StatusOK)
	if len(got.Sessions) != 2 || !got.Truncated {
		t.Errorf("limit=2: got %d sessions, truncated %v; want 2, true", len(got.Sessions), got.Truncated)
	}
	got = decode[sessionList](t, e.do("GET", "/sessions?limit=99999999999999999999"), http.StatusOK)
	if len(got.Sessions) != 3 {
		t.Errorf("huge limit: got %d sessions, want 3", len(got.Sessions))
	}
	for _, bad := range []string{"0", "-1", "x", "1.5", "+3"} {
		decode[errorBody](t, e.do("GET", "/sessions?limit="+bad), http.StatusBadRequest)
	}
}

func TestShowSession(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	key := e.login("ann", "phone")
	got := decode[httpsession.SessionInfo](t, e.do("GET", "/sessions/"+key), http.StatusOK)
	if got.Key != key || got.Owner != "ann" || got.Values["note"] != "hello" {
		t.Errorf("show: %+v", got)
	}
	if cart, _ := got.Values["cart"].([]any); len(cart) != 2 {
		t.Errorf("cart = %#v", got.Values["cart"])
	}
	missing := strings.Repeat("0", 64)
	if got := decode[errorBody](t, e.do("GET", "/sessions/"+missing), http.StatusNotFound); got.Error != "session not found" {
		t.Errorf("missing: %q", got.Error)
	}
}

func TestUnencodableValue(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	key := e.login("ann", "phone", "odd")
	got := decode[httpsession.SessionInfo](t, e.do("GET", "/sessions/"+key), http.StatusOK)
	odd, _ := got.Values["odd"].(map[string]any)
	if odd["go_type"] != "complex128" || odd["text"] != "(1+2i)" || got.Values["note"] != "hello" {
		t.Errorf("values: %#v", got.Values)
	}
}

func TestBadKeys(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	key := e.login("ann", "phone")
	for name, bad := range map[string]string{
		"upper":      strings.ToUpper(key),
		"short":      key[:63],
		"long":       key + "0",
		"not hex":    strings.Repeat("g", 64),
		"raw token":  "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"escaped nl": url.PathEscape(key[:63] + "\n"),
	} {
		for _, method := range []string{"GET", "DELETE"} {
			w := e.do(method, "/sessions/"+bad)
			if got := decode[errorBody](t, w, http.StatusBadRequest); !strings.Contains(got.Error, "64 lowercase hex") {
				t.Errorf("%s %s: %q", method, name, got.Error)
			}
		}
		decode[errorBody](t, e.do("POST", "/sessions/"+bad+"/delete"), http.StatusBadRequest)
	}
	// A path that is not clean never reaches a handler.
	decode[errorBody](t, e.do("GET", "/sessions/..%2F..%2Fetc%2Fpasswd"), http.StatusNotFound)
	if n := e.spy.keyCalls.Load(); n != 0 {
		t.Errorf("bad keys reached the store %d times", n)
	}
}

func TestDeleteSession(t *testing.T) {
	var audit syncBuffer
	e := newEnv(t, admin.Options{Logger: slog.New(slog.NewTextHandler(&audit, nil))}, nil)
	key := e.login("ann", "phone")
	other := e.login("ann", "laptop")
	if got := decode[map[string]int](t, e.do("DELETE", "/sessions/"+key), http.StatusOK); got["destroyed"] != 1 {
		t.Errorf("delete: %v", got)
	}
	if log := audit.String(); !strings.Contains(log, "session deleted") || !strings.Contains(log, "key="+key) || !strings.Contains(log, "owner=ann") {
		t.Errorf("audit log: %q", log)
	}
	decode[errorBody](t, e.do("GET", "/sessions/"+key), http.StatusNotFound)
	decode[errorBody](t, e.do("DELETE", "/sessions/"+key), http.StatusNotFound)
	decode[httpsession.SessionInfo](t, e.do("GET", "/sessions/"+other), http.StatusOK)
}

func TestOwners(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	e.login("ann", "phone")
	e.login("ann", "laptop")
	bob := e.login("bob", "desktop")
	odd := "team/<b>&co"
	e.login(odd, "kiosk")

	got := decode[sessionList](t, e.do("GET", "/owners/ann"), http.StatusOK)
	if len(got.Sessions) != 2 || got.Truncated || got.Sessions[0].UserAgent != "laptop" || got.Sessions[0].Values != nil {
		t.Fatalf("ann: %+v", got)
	}
	got = decode[sessionList](t, e.do("GET", "/owners/ann?limit=1"), http.StatusOK)
	if len(got.Sessions) != 1 || !got.Truncated {
		t.Errorf("ann, limit 1: %d sessions, truncated %v", len(got.Sessions), got.Truncated)
	}
	got = decode[sessionList](t, e.do("GET", "/owners/"+url.PathEscape(odd)), http.StatusOK)
	if len(got.Sessions) != 1 || got.Sessions[0].Owner != odd {
		t.Errorf("owner with a slash: %+v", got)
	}
	got = decode[sessionList](t, e.do("GET", "/owners/nobody"), http.StatusOK)
	if got.Sessions == nil || len(got.Sessions) != 0 {
		t.Errorf("nobody: %+v", got)
	}
	decode[errorBody](t, e.do("GET", "/owners/"+strings.Repeat("x", 1025)), http.StatusBadRequest)

	if got := decode[map[string]int](t, e.do("DELETE", "/owners/ann"), http.StatusOK); got["destroyed"] != 2 {
		t.Errorf("destroy ann: %v", got)
	}
	if got := decode[sessionList](t, e.do("GET", "/owners/ann"), http.StatusOK); len(got.Sessions) != 0 {
		t.Errorf("ann after destroy: %+v", got)
	}
	if got := decode[map[string]int](t, e.do("DELETE", "/owners/ann"), http.StatusOK); got["destroyed"] != 0 {
		t.Errorf("destroy ann again: %v", got)
	}
	decode[httpsession.SessionInfo](t, e.do("GET", "/sessions/"+bob), http.StatusOK)
}

func TestStats(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	e.login("ann", "phone")
	e.login("bob", "laptop")
	got := decode[map[string]any](t, e.do("GET", "/stats"), http.StatusOK)
	if got["live"] != 2.0 || got["created"] != 2.0 || got["saves"] != 2.0 {
		t.Errorf("stats: %v", got)
	}
	if _, ok := got["live_capped"]; ok {
		t.Errorf("live_capped with 2 sessions: %v", got)
	}
}

func TestStoreWithoutLister(t *testing.T) {
	e := newEnv(t, admin.Options{}, func(s *spyStore) httpsession.Store { return plainStore{s} })
	key := e.login("ann", "phone")
	for _, target := range []string{"/sessions", "/owners/ann"} {
		got := decode[errorBody](t, e.do("GET", target), http.StatusNotImplemented)
		if !strings.Contains(got.Error, "ErrNotSupported") || !strings.Contains(got.Error, httpsession.ErrNotSupported.Error()) {
			t.Errorf("GET %s: %q", target, got.Error)
		}
	}
	decode[errorBody](t, e.do("DELETE", "/owners/ann"), http.StatusNotImplemented)
	// A store that cannot list still shows and deletes one session.
	decode[httpsession.SessionInfo](t, e.do("GET", "/sessions/"+key), http.StatusOK)
	stats := decode[map[string]any](t, e.do("GET", "/stats"), http.StatusOK)
	if _, ok := stats["live"]; ok || stats["created"] != 1.0 {
		t.Errorf("stats without a lister: %v", stats)
	}
	w := e.do("GET", "/")
	if w.Code != http.StatusNotImplemented || !strings.Contains(w.Body.String(), "not supported") {
		t.Errorf("page: %d %s", w.Code, w.Body)
	}
	decode[map[string]int](t, e.do("DELETE", "/sessions/"+key), http.StatusOK)
}

func TestStoreFailureHidesDetails(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	e.spy.listErr = errors.New("dial tcp 10.1.2.3:6379: connection refused")
	for _, target := range []string{"/sessions", "/stats"} {
		w := e.do("GET", target)
		if decode[errorBody](t, w, http.StatusInternalServerError); strings.Contains(w.Body.String(), "10.1.2.3") {
			t.Errorf("GET %s shows the store error: %s", target, w.Body)
		}
	}
}

func TestStoreUnavailableIs503(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	e.spy.listErr = fmt.Errorf("%w: %w", httpsession.ErrUnavailable, errors.New("dial tcp 10.1.2.3:11211: connection refused"))
	for _, target := range []string{"/sessions", "/stats"} {
		w := e.do("GET", target)
		if decode[errorBody](t, w, http.StatusServiceUnavailable); strings.Contains(w.Body.String(), "10.1.2.3") {
			t.Errorf("GET %s shows the store error: %s", target, w.Body)
		}
	}
}

func TestHeaders(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	key := e.login("ann", "phone")
	for _, req := range []struct{ method, target string }{
		{"GET", "/sessions"}, {"GET", "/sessions/" + key}, {"GET", "/owners/ann"}, {"GET", "/stats"},
		{"GET", "/nowhere"}, {"GET", "/sessions/"}, {"PUT", "/sessions"}, {"GET", "/sessions/x"},
		{"GET", "//sessions"}, {"GET", "/sessions/../stats"}, {"DELETE", "/sessions/" + key},
	} {
		w := e.do(req.method, req.target)
		h := w.Header()
		if h.Get("Cache-Control") != "no-store" || h.Get("Content-Type") != "application/json" ||
			h.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Errorf("%s %s: headers %v", req.method, req.target, h)
		}
		if w.Code >= 400 {
			decode[errorBody](t, w, w.Code)
		}
	}
	w := e.do("PUT", "/sessions")
	decode[errorBody](t, w, http.StatusMethodNotAllowed)
	if w.Header().Get("Allow") != "GET" {
		t.Errorf("Allow %q", w.Header().Get("Allow"))
	}
	decode[errorBody](t, e.do("GET", "/nowhere"), http.StatusNotFound)
	decode[errorBody](t, e.do("GET", "//sessions"), http.StatusNotFound)
}

func TestPageEscapes(t *testing.T) {
	e := newEnv(t, admin.Options{Prefix: "/admin"}, nil)
	hostile := `<script>alert(1)</script>`
	key := e.login(hostile, `"><script>alert(2)</script>`)
	e.login("ann", "phone")

	w := e.do("GET", "/admin/")
	body := w.Body.String()
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "style-src 'sha256-", "form-action 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	style := body[strings.Index(body, "<style>")+len("<style>") : strings.Index(body, "</style>")]
	sum := sha256.Sum256([]byte(style))
	if !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") {
		t.Errorf("CSP %q does not allow the page's stylesheet", csp)
	}
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows too much: %q", csp)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Error("page is cacheable")
	}
	if strings.Contains(body, "<script") {
		t.Errorf("page carries a script tag:\n%s", body)
	}
	for _, want := range []string{
		"&lt;script&gt;alert(1)&lt;/script&gt;",
		"&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;",
		`action="/admin/sessions/` + key + `/delete"`,
		`href="/admin/?owner=%3cscript%3ealert%281%29%3c%2fscript%3e"`,
		`<td class="ua">phone</td>`,
		"2 live sessions",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}

	w = e.do("GET", "/admin/?owner="+url.QueryEscape(hostile))
	body = w.Body.String()
	if w.Code != http.StatusOK || strings.Contains(body, "<script") || strings.Contains(body, "phone") {
		t.Errorf("owner view: %d\n%s", w.Code, body)
	}
	for _, want := range []string{
		"Sessions of &lt;script&gt;",
		`action="/admin/owners/%3Cscript%3Ealert%281%29%3C%2Fscript%3E/delete"`,
		`<input type="hidden" name="owner" value="&lt;script&gt;alert(1)&lt;/script&gt;">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("owner view lacks %q:\n%s", want, body)
		}
	}
	// The message takes only a number from the query.
	w = e.do("GET", "/admin/?deleted=hacked")
	if strings.Contains(w.Body.String(), "hacked") || strings.Contains(w.Body.String(), "Deleted") {
		t.Errorf("message from the query:\n%s", w.Body)
	}
}

// TestPageCounts checks that the page's counts read as English: "1 live
// session", "2 live sessions", "1 save", "Deleted 1 session".
func TestPageCounts(t *testing.T) {
	e := newEnv(t, admin.Options{Prefix: "/admin"}, nil)
	page := func() string { return e.do("GET", "/admin/").Body.String() }
	if body := page(); !strings.Contains(body, "0 live sessions.") {
		t.Errorf("no session: want \"0 live sessions.\" in\n%s", body)
	}
	e.login("ann", "phone")
	if body := page(); !strings.Contains(body, "1 live session.") || !strings.Contains(body, "1 save,") {
		t.Errorf("one session: want \"1 live session.\" and \"1 save,\" in\n%s", body)
	}
	e.login("bob", "desktop")
	if body := page(); !strings.Contains(body, "2 live sessions.") {
		t.Errorf("two sessions: want \"2 live sessions.\" in\n%s", body)
	}
	for n, want := range map[string]string{"0": "Deleted 0 sessions.", "1": "Deleted 1 session.", "3": "Deleted 3 sessions."} {
		if body := e.do("GET", "/admin/?deleted="+n).Body.String(); !strings.Contains(body, want) {
			t.Errorf("?deleted=%s: want %q in\n%s", n, want, body)
		}
	}
}

func TestPageForms(t *testing.T) {
	e := newEnv(t, admin.Options{Prefix: "/admin"}, nil)
	key := e.login("ann", "phone")
	e.login("ann", "laptop")
	bob := e.login("bob", "desktop")
	same := []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://example.com"}

	w := e.do("POST", "/admin/sessions/"+key+"/delete", same...)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/?deleted=1" {
		t.Fatalf("delete form: %d, Location %q", w.Code, w.Header().Get("Location"))
	}
	decode[errorBody](t, e.do("GET", "/admin/sessions/"+key), http.StatusNotFound)
	if body := e.do("GET", "/admin/?deleted=1").Body.String(); !strings.Contains(body, "Deleted 1 session.") {
		t.Errorf("no message after delete:\n%s", body)
	}

	w = e.do("POST", "/admin/owners/ann/delete", same...)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/?deleted=1&owner=ann" {
		t.Fatalf("owner form: %d, Location %q", w.Code, w.Header().Get("Location"))
	}
	decode[httpsession.SessionInfo](t, e.do("GET", "/admin/sessions/"+bob), http.StatusOK)
	decode[errorBody](t, e.do("GET", "/admin/sessions/"+bob+"/delete"), http.StatusMethodNotAllowed)
}

func TestCrossOriginRefused(t *testing.T) {
	e := newEnv(t, admin.Options{}, nil)
	key := e.login("ann", "phone")
	for name, header := range map[string][]string{
		"sec-fetch-site cross-site": {"Sec-Fetch-Site", "cross-site"},
		"sec-fetch-site same-site":  {"Sec-Fetch-Site", "same-site"},
		"origin elsewhere":          {"Origin", "https://evil.example"},
	} {
		for _, req := range []struct{ method, target string }{
			{"POST", "/sessions/" + key + "/delete"}, {"DELETE", "/sessions/" + key},
			{"POST", "/owners/ann/delete"}, {"DELETE", "/owners/ann"},
		} {
			w := e.do(req.method, req.target, header...)
			if got := decode[errorBody](t, w, http.StatusForbidden); got.Error != "cross-origin request refused" {
				t.Errorf("%s: %s %s: %q", name, req.method, req.target, got.Error)
			}
		}
	}
	if _, err := sessions.Inspect(context.Background(), e.m, key); err != nil {
		t.Fatalf("session gone after cross-origin requests: %v", err)
	}
	// Reads are safe methods; a cross-site page still cannot read them
	// (no CORS headers), and they change nothing.
	decode[sessionList](t, e.do("GET", "/sessions", "Sec-Fetch-Site", "cross-site"), http.StatusOK)
}

func TestMountedBothWays(t *testing.T) {
	e := newEnv(t, admin.Options{Prefix: "/admin/"}, nil)
	key := e.login("ann", "phone")
	mounts := map[string]http.Handler{
		"full path":    e.admin,
		"strip prefix": http.StripPrefix("/admin", e.admin),
	}
	for name, inner := range mounts {
		mux := http.NewServeMux()
		mux.Handle("/admin/", inner)
		get := func(target string) *httptest.ResponseRecorder {
			return serve(mux, "GET", target, "Authorization", operator)
		}
		if got := decode[sessionList](t, get("/admin/sessions"), http.StatusOK); len(got.Sessions) != 1 {
			t.Errorf("%s: list %+v", name, got)
		}
		decode[httpsession.SessionInfo](t, get("/admin/sessions/"+key), http.StatusOK)
		body := get("/admin/").Body.String()
		if !strings.Contains(body, `href="/admin/sessions/`+key+`"`) || !strings.Contains(body, `action="/admin/"`) {
			t.Errorf("%s: page links lack the prefix:\n%s", name, body)
		}
		decode[errorBody](t, get("/admin/nowhere"), http.StatusNotFound)
	}
	// Without a mux in front, the bare prefix is the page too.
	if w := e.do("GET", "/admin"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<h1>Sessions</h1>") {
		t.Errorf("/admin: %d", w.Code)
	}
}
