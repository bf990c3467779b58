package httpsession_test

import (
	"bytes"
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/httpsession/httpsession"
)

// Every response that sets, renews or clears the token is uncacheable and
// varies on the cookie; so is every other response through the middleware.
func TestCacheHeaders(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{})
	h := m.Handler(api())
	set := do(t, h, "POST", "/put?key=a&value=1", "")
	token := sessionCookie(set).Value
	renew := do(t, h, "POST", "/login?user=ann", "session="+token)
	clear := do(t, h, "POST", "/logout", "session="+sessionCookie(renew).Value)
	for name, w := range map[string]*httptest.ResponseRecorder{"set": set, "renew": renew, "clear": clear} {
		if sessionCookie(w) == nil {
			t.Fatalf("%s: no Set-Cookie", name)
		}
		if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", name, cc)
		}
		if v := w.Header().Values("Vary"); len(v) != 1 || v[0] != "Cookie" {
			t.Errorf("%s: Vary %q, want Cookie", name, v)
		}
	}
	plain := do(t, h, "GET", "/noop", "")
	if v := plain.Header().Get("Vary"); v != "Cookie" {
		t.Errorf("anonymous response: Vary %q: a shared cache could serve it to a signed-in user", v)
	}
}

// lockedBuffer collects log output from concurrent requests.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Raw tokens never reach a log line, whatever path the request takes.
func TestTokensNeverLogged(t *testing.T) {
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	store := newMemStore(t)
	m, cs, clk := newManager(t, httpsession.Config{Store: store, Logger: logger, IdleTimeout: 600e9, Client: httpsession.Client{BindUserAgent: true}})
	h := m.Handler(api())
	var tokens []string
	w := do(t, h, "POST", "/put?key=a&value=1", "")
	tokens = append(tokens, sessionCookie(w).Value)
	w = do(t, h, "POST", "/login?user=ann", "session="+tokens[0])
	tokens = append(tokens, sessionCookie(w).Value)
	// A request from another User-Agent: binding mismatch, logged.
	r := httptest.NewRequest("GET", "/get?key=a", nil)
	r.Header.Set("Cookie", "session="+tokens[1])
	r.Header.Set("User-Agent", "thief")
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Idle expiry, logged at debug or warn.
	w = do(t, h, "POST", "/put?key=b&value=2", "")
	tokens = append(tokens, sessionCookie(w).Value)
	clk.Add(3600e9)
	do(t, h, "GET", "/get?key=b", "session="+tokens[2])
	// A store failure with a token in the request.
	w = do(t, h, "POST", "/put?key=c&value=3", "")
	tokens = append(tokens, sessionCookie(w).Value)
	outage := errors.New("store down")
	cs.fail.Store(&outage)
	do(t, h, "GET", "/get?key=c", "session="+tokens[3])
	cs.fail.Store(nil)
	// A corrupt record.
	w = do(t, h, "POST", "/put?key=d&value=4", "")
	tokens = append(tokens, sessionCookie(w).Value)
	store.Delete(context.Background(), httpsession.StoreKey(tokens[4]))
	store.Put(context.Background(), httpsession.StoreKey(tokens[4]), httpsession.Record{Data: []byte("garbage"), Expires: clk.Now().Add(3600e9)})
	do(t, h, "GET", "/get?key=d", "session="+tokens[4])

	out := logs.String()
	if !strings.Contains(out, "another client") || !strings.Contains(out, "store failure") || !strings.Contains(out, "undecodable") {
		t.Fatalf("the scenario did not produce the expected log lines:\n%s", out)
	}
	for _, tok := range tokens {
		if strings.Contains(out, tok) || strings.Contains(out, tok[:16]) {
			t.Fatalf("a raw token appears in the logs:\n%s", out)
		}
	}
}

func TestBindUserAgent(t *testing.T) {
	m, cs, _ := newManager(t, httpsession.Config{Client: httpsession.Client{BindUserAgent: true}})
	h := m.Handler(api())
	req := func(ua, cookie, target string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", target, nil)
		r.Header.Set("User-Agent", ua)
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	token := sessionCookie(req("firefox", "", "/login?user=ann")).Value
	if w := req("firefox", "session="+token, "/get?key=user"); w.Body.String() != "ann" {
		t.Fatal("the same client lost its session")
	}
	w := req("curl", "session="+token, "/get?key=user")
	if w.Code != http.StatusNotFound {
		t.Fatal("a session presented with another User-Agent was accepted")
	}
	if c := sessionCookie(w); c == nil || c.MaxAge >= 0 {
		t.Fatal("the mismatching client's cookie was not cleared")
	}
	if _, err := cs.Store.Get(context.Background(), httpsession.StoreKey(token)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatal("the session survived a binding mismatch")
	}
	if m.Stats().Destroyed != 1 {
		t.Fatalf("destroyed = %d", m.Stats().Destroyed)
	}
}

func TestBindIP(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{Client: httpsession.Client{BindIP: true}})
	h := m.Handler(api())
	req := func(ip, cookie, target string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", target, nil)
		r.RemoteAddr = ip + ":4711"
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	token := sessionCookie(req("192.0.2.7", "", "/login?user=ann")).Value
	if w := req("192.0.2.7", "session="+token, "/get?key=user"); w.Body.String() != "ann" {
		t.Fatal("the same address lost its session")
	}
	if w := req("198.51.100.9", "session="+token, "/get?key=user"); w.Code != http.StatusNotFound {
		t.Fatal("a session presented from another address was accepted")
	}
	if w := req("192.0.2.7", "session="+token, "/get?key=user"); w.Code != http.StatusNotFound {
		t.Fatal("the session lived on after a binding mismatch")
	}
}

// Tokens are never compared with ==: the store is keyed by their hash, and
// signatures are checked by securecookie with hmac.Equal. This guards the
// rule: no comparison in the root package's code has an operand whose name
// says it is a token, except against "", nil or a length.
func TestNoPlainTokenComparison(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			b, ok := n.(*ast.BinaryExpr)
			if !ok || (b.Op != token.EQL && b.Op != token.NEQ) {
				return true
			}
			if isTrivial(b.X) || isTrivial(b.Y) {
				return true
			}
			for _, side := range []ast.Expr{b.X, b.Y} {
				if id := identName(side); strings.Contains(strings.ToLower(id), "token") || strings.EqualFold(id, "hash") {
					t.Errorf("%s: %s compared with %s", fset.Position(b.Pos()), id, b.Op)
				}
			}
			return true
		})
	}
}

// isTrivial reports comparisons that reveal nothing of a secret: against
// "", nil or a length.
func isTrivial(e ast.Expr) bool {
	switch v := e.(type) {
	case *ast.BasicLit:
		return v.Value == `""`
	case *ast.Ident:
		return v.Name == "nil"
	case *ast.CallExpr:
		fn, ok := v.Fun.(*ast.Ident)
		return ok && fn.Name == "len"
	}
	return false
}

func identName(e ast.Expr) string {
	switch v := e.(type) {
	case *ast.Ident:
		return v.Name
	case *ast.SelectorExpr:
		return v.Sel.Name
	}
	return ""
}
