package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/open"
)

// send sends a request with the headers given as name, value pairs and
// returns the response with its body read.
func send(t *testing.T, c *http.Client, method, url string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// noRedirects is a client that returns redirects instead of following
// them, so that each response's own headers can be checked.
func noRedirects() *http.Client {
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func TestAnonymousPageViewStoresNothing(t *testing.T) {
	srv, m := serve(t, options{})
	c := noRedirects()
	for i := range 3 {
		resp, page := send(t, c, "GET", srv.URL+"/")
		if resp.StatusCode != 200 || !strings.Contains(page, "You have no session yet") {
			t.Fatalf("anonymous GET / #%d = %d:\n%s", i+1, resp.StatusCode, page)
		}
		if sc := resp.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Fatalf("anonymous GET / #%d set cookies %q, want none", i+1, sc)
		}
	}
	if st := m.Stats(); st.Saves != 0 || st.Created != 0 {
		t.Fatalf("after 3 anonymous page views: %d saves, %d sessions created; want 0 and 0", st.Saves, st.Created)
	}

	// Something worth keeping starts a session; from then on visits count.
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	if code, body := call(t, c, "POST", srv.URL+"/cart", url.Values{"item": {"apple"}}); code != http.StatusSeeOther {
		t.Fatalf("POST /cart = %d %q, want 303", code, body)
	}
	if st := m.Stats(); st.Created != 1 {
		t.Fatalf("after adding to the cart: %d sessions created, want 1", st.Created)
	}
	_, page := send(t, c, "GET", srv.URL+"/")
	if !strings.Contains(page, "You have seen this page 1 time in this session.") || !strings.Contains(page, "Added apple to your cart.") {
		t.Fatalf("page after adding to the cart (want the visit counted and the flash):\n%s", page)
	}
}

// TestLoggedInSurvivesAnonymousFlood runs the example on a memstore of 500
// sessions, as -store 'mem:?max_entries=500' does, and sends 1,500
// anonymous puts, each a new session: the signed-in user stays signed in.
func TestLoggedInSurvivesAnonymousFlood(t *testing.T) {
	store, closeStore, err := open.Open(context.Background(), "mem:?max_entries=500")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeStore() })
	srv, m := serveStore(t, store, options{})
	_, ann := newApp(t)
	if code, body := call(t, ann, "POST", srv.URL+"/api/login?user=ann", nil); code != 200 {
		t.Fatalf("login = %d %q", code, body)
	}
	anonymous := noRedirects()
	codes := map[int]int{}
	deadline := time.Now().Add(2 * time.Minute)
	for i := range 1500 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d puts in 2 minutes", i)
		}
		resp, _ := send(t, anonymous, "POST", srv.URL+"/api/put?key=k&value="+strings.Repeat("x", 1000))
		codes[resp.StatusCode]++
	}
	if code, body := call(t, ann, "GET", srv.URL+"/api/get?key=user", nil); code != 200 || body != "ann\n" {
		t.Fatalf("after 1,500 anonymous puts (answers %v), the signed-in user gets %d %q; want 200 \"ann\"", codes, code, body)
	}
	if codes[200] != 1500 {
		t.Errorf("anonymous puts answered %v, want 1,500 times 200 (anonymous sessions make room for each other)", codes)
	}
	if st := m.Stats(); st.Created != 1501 {
		t.Errorf("%d sessions created, want 1,501", st.Created)
	}
}

func TestAPIPutLimits(t *testing.T) {
	srv, c := newApp(t)
	put := func(key, value string) (int, string) {
		return call(t, c, "POST", srv.URL+"/api/put?"+url.Values{"key": {key}, "value": {value}}.Encode(), nil)
	}
	// The limit is on key and value together.
	if code, body := put("k", strings.Repeat("v", maxPutBytes-1)); code != 200 {
		t.Fatalf("put of %d bytes = %d %q, want 200", maxPutBytes, code, body)
	}
	code, body := put("big", strings.Repeat("v", maxPutBytes-2))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "at most 4096") {
		t.Fatalf("put of %d bytes = %d %q, want 413 naming the limit", maxPutBytes+1, code, body)
	}
	if code, _ := call(t, c, "GET", srv.URL+"/api/get?key=big", nil); code != 404 {
		t.Fatalf("the refused value was stored: GET = %d", code)
	}
	if code, body := put("big", strings.Repeat("v", 1<<20)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("put of 1 MiB = %d %q, want 413", code, body)
	}

	// At most maxKeys keys; the session already holds "k".
	for i := 1; i < maxKeys; i++ {
		if code, body := put("key"+string(rune('a'+i)), "x"); code != 200 {
			t.Fatalf("put of key %d = %d %q", i+1, code, body)
		}
	}
	if code, body := put("one-too-many", "x"); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "16 keys") {
		t.Fatalf("put of key %d = %d %q, want 413 naming the limit", maxKeys+1, code, body)
	}
	if code, body := put("k", "replaced"); code != 200 {
		t.Fatalf("replacing a key of a full session = %d %q, want 200", code, body)
	}
	if _, body := call(t, c, "GET", srv.URL+"/api/get?key=k", nil); body != "replaced\n" {
		t.Fatalf("GET k = %q, want %q", body, "replaced\n")
	}
}

func TestCartLimit(t *testing.T) {
	srv, c := newApp(t)
	for i := range maxCart {
		if code, body := call(t, c, "POST", srv.URL+"/cart", url.Values{"item": {"bread"}}); code != 200 {
			t.Fatalf("item %d = %d %q", i+1, code, body)
		}
	}
	code, body := call(t, c, "POST", srv.URL+"/cart", url.Values{"item": {"bread"}})
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "cart is full") {
		t.Fatalf("item %d = %d %q, want 413", maxCart+1, code, body)
	}
	_, page := call(t, c, "GET", srv.URL+"/", nil)
	if n := strings.Count(page, "<li>bread</li>"); n != maxCart {
		t.Fatalf("the cart holds %d items, want %d", n, maxCart)
	}
}

// TestGetIsPlainText stores markup and a script and reads them back: the
// answer is text that no browser renders or sniffs as HTML.
func TestGetIsPlainText(t *testing.T) {
	srv, c := newApp(t)
	const hostile = `<html><body><script>alert(document.domain)</script>`
	if code, body := call(t, c, "POST", srv.URL+"/api/put?"+url.Values{"key": {"x"}, "value": {hostile}}.Encode(), nil); code != 200 {
		t.Fatalf("put = %d %q", code, body)
	}
	for _, path := range []string{"/api/get?key=x", "/api/get?key=absent", "/api/count"} {
		method := "GET"
		if path == "/api/count" {
			method = "POST"
		}
		resp, body := send(t, c, method, srv.URL+path)
		ct, nosniff := resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options")
		if ct != "text/plain; charset=utf-8" || nosniff != "nosniff" {
			t.Errorf("%s %s: Content-Type %q, X-Content-Type-Options %q; want text/plain; charset=utf-8 and nosniff", method, path, ct, nosniff)
		}
		if path == "/api/get?key=x" && body != hostile+"\n" {
			t.Errorf("GET %s = %q, want the value as stored", path, body)
		}
	}
	resp, _ := send(t, c, "GET", srv.URL+"/")
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /: no X-Content-Type-Options: nosniff")
	}
}

// TestCrossOriginRefused sends each state-changing route a request as a
// browser sends it from a form on another site: refused with 403, and no
// session read or made. The same request from the same origin, or from a
// script without browser headers, goes through.
func TestCrossOriginRefused(t *testing.T) {
	routes := []string{
		"/login", "/logout", "/cart", "/devices/signout",
		"/api/put?key=k&value=v", "/api/count", "/api/login?user=eve", "/api/logout",
	}
	crossSite := map[string][]string{
		"Sec-Fetch-Site cross-site": {"Sec-Fetch-Site", "cross-site"},
		"Sec-Fetch-Site same-site":  {"Sec-Fetch-Site", "same-site"},
		"Origin elsewhere":          {"Origin", "https://evil.example"},
	}
	srv, m := serve(t, options{})
	c := noRedirects()
	for _, route := range routes {
		for name, h := range crossSite {
			resp, body := send(t, c, "POST", srv.URL+route, h...)
			if resp.StatusCode != http.StatusForbidden || len(resp.Header.Values("Set-Cookie")) != 0 {
				t.Errorf("POST %s with %s = %d %q, cookies %q; want 403 and no cookie", route, name, resp.StatusCode, body, resp.Header.Values("Set-Cookie"))
			}
		}
	}
	if st := m.Stats(); st.Loads != 0 || st.Saves != 0 {
		t.Errorf("cross-origin requests reached the store: %d loads, %d saves", st.Loads, st.Saves)
	}

	same := map[string][]string{
		"Sec-Fetch-Site same-origin": {"Sec-Fetch-Site", "same-origin"},
		"Origin of the server":       {"Origin", srv.URL},
		"no browser headers":         nil,
	}
	for name, h := range same {
		resp, body := send(t, c, "POST", srv.URL+"/api/put?key=k&value=v", h...)
		if resp.StatusCode != 200 {
			t.Errorf("POST /api/put with %s = %d %q, want 200", name, resp.StatusCode, body)
		}
	}
	// Reads are never refused: a link from another site opens the page.
	if resp, _ := send(t, c, "GET", srv.URL+"/", "Sec-Fetch-Site", "cross-site"); resp.StatusCode != 200 {
		t.Errorf("GET / from another site = %d, want 200", resp.StatusCode)
	}
}

func TestSecureGivesHostCookie(t *testing.T) {
	for _, secure := range []bool{false, true} {
		srv, _ := serve(t, options{secure: secure})
		resp, _ := send(t, noRedirects(), "POST", srv.URL+"/api/count")
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("-secure=%v: cookies %q, want one", secure, resp.Header.Values("Set-Cookie"))
		}
		c := cookies[0]
		wantName := "session"
		if secure {
			wantName = "__Host-session"
		}
		if c.Name != wantName || c.Secure != secure || c.Path != "/" || c.Domain != "" || !c.HttpOnly {
			t.Errorf("-secure=%v: Set-Cookie %q; want %s, Secure %v, Path=/, no Domain, HttpOnly", secure, resp.Header.Get("Set-Cookie"), wantName, secure)
		}
	}
}

func TestAdminBasicAuth(t *testing.T) {
	const password = "correct horse"
	srv := newServer(t, password)
	c := noRedirects()
	get := func(path, user, pass string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	refused := map[string][2]string{
		"no credentials":           {"", ""},
		"wrong password":           {"admin", "wrong"},
		"a prefix of it":           {"admin", password[:5]},
		"it and more":              {"admin", password + "!"},
		"empty password":           {"admin", ""},
		"wrong user":               {"root", password},
		"user name as a prefix":    {"admi", password},
		"case of the user":         {"Admin", password},
		"password as user name":    {password, "admin"},
		"the password, other case": {"admin", strings.ToUpper(password)},
	}
	for _, path := range []string{"/admin/", "/admin/stats", "/admin/sessions"} {
		for name, cred := range refused {
			resp, body := get(path, cred[0], cred[1])
			if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
				t.Errorf("GET %s with %s = %d, WWW-Authenticate %q; want 401 with a Basic challenge", path, name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
			}
			if strings.Contains(body, "session") && strings.Contains(body, "live") {
				t.Errorf("GET %s with %s gave data: %q", path, name, body)
			}
		}
	}
	resp, page := get("/admin/", "admin", password)
	if resp.StatusCode != 200 || !strings.Contains(page, "0 live sessions.") {
		t.Fatalf("GET /admin/ with the password = %d:\n%s", resp.StatusCode, page)
	}
	if resp, body := get("/admin/stats", "admin", password); resp.StatusCode != 200 || !strings.Contains(body, `"live":0`) {
		t.Fatalf("GET /admin/stats with the password = %d %q", resp.StatusCode, body)
	}
}

func TestFlags(t *testing.T) {
	env := func(pw string) func(string) string {
		return func(name string) string {
			if name == envAdminPassword {
				return pw
			}
			return ""
		}
	}
	var out bytes.Buffer
	o, err := parseFlags("example", nil, env("from-env"), &out)
	if err != nil || o.adminPassword != "from-env" || o.secure || o.storeURL != "bolt:sessions.db" {
		t.Fatalf("no flags, $%s set: %+v, %v", envAdminPassword, o, err)
	}
	o, err = parseFlags("example", []string{"-admin-password", "from-flag", "-secure"}, env("from-env"), &out)
	if err != nil || o.adminPassword != "from-flag" || !o.secure {
		t.Fatalf("-admin-password and $%s: %+v, %v; want the flag's password", envAdminPassword, o, err)
	}
	if _, err := parseFlags("example", []string{"stray"}, env(""), &out); err == nil {
		t.Fatal("a stray argument was accepted")
	}
	if o, err := parseFlags("example", []string{"-session-rate", "10"}, env(""), &out); err != nil || o.sessionRate != 10 {
		t.Fatalf("-session-rate 10: %+v, %v", o, err)
	}
	if _, err := parseFlags("example", []string{"-session-rate", "-1"}, env(""), &out); err == nil {
		t.Fatal("-session-rate -1 was accepted")
	}

	out.Reset()
	_, err = parseFlags("example", []string{"-help"}, env("from-env"), &out)
	help := out.String()
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-help: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"$" + envAdminPassword, "-admin-password password", "-secure", "__Host-session", "-session-rate n"} {
		if !strings.Contains(help, want) {
			t.Errorf("-help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, "from-env") {
		t.Errorf("-help shows the password from the environment:\n%s", help)
	}
}

// TestStoreURLRedactedInLog runs the example, as main does, on a Redis
// store whose URL carries a password: the start-up line names the store
// with the password masked.
func TestStoreURLRedactedInLog(t *testing.T) {
	const password = "Sup3r-s3cret-pw"
	srv := testservice.Redis(t, testservice.RedisArgs("--user", "ann", "on", ">"+password, "~*", "&*", "+@all"))
	if srv.External() {
		t.Skipf("$%s names a server of its own; this test needs a private one with a user and password", testservice.EnvRedis)
	}
	var logged lockedBuffer
	log := slog.New(slog.NewTextHandler(&logged, nil))

	// A store that refuses the password, and one that is not there: the
	// error does not repeat the URL's password.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, bad := range []string{
		"redis://ann:wrong-" + password + "@" + srv.Addr() + "/0",
		"redis://:" + password + "@" + closed + "/0",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := run(ctx, options{addr: "127.0.0.1:0", storeURL: bad}, log)
		cancel()
		if err == nil || strings.Contains(err.Error(), password) {
			t.Fatalf("run with %s: %v; want an error without the password", open.Redact(bad), err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, options{addr: "127.0.0.1:0", storeURL: "redis://ann:" + password + "@" + srv.Addr() + "/0"}, log)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logged.String(), "example listening") {
		select {
		case err := <-done:
			cancel()
			t.Fatalf("run ended before it listened: %v\nlog:\n%s", err, logged.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("no start-up line after 30 s; log:\n%s", logged.String())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
	text := logged.String()
	if strings.Contains(text, password) {
		t.Errorf("the log holds the store password:\n%s", text)
	}
	if want := "redis://ann:xxxxx@" + srv.Addr() + "/0"; !strings.Contains(text, want) {
		t.Errorf("the log does not name the store as %q:\n%s", want, text)
	}
}

// TestForeignSessionDirectoryRefused starts the example, as main does, on
// a file store whose directory another user owns (nobody, mode 0700): it
// refuses to start, and says why.
func TestForeignSessionDirectoryRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the directory to another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	dir := filepath.Join(t.TempDir(), "sessions")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, options{addr: "127.0.0.1:0", storeURL: "file:" + dir}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "owned by uid "+nobody.Uid) {
		t.Fatalf("run on a directory of nobody's: %v; want a refusal naming the owner", err)
	}
}

// TestSessionRate runs the example with -session-rate 2 and sends new
// sessions from one address (the test's): two are stored, the third is
// refused with 429 and stores nothing, while sessions that exist carry
// on. Without the flag nothing is limited.
func TestSessionRate(t *testing.T) {
	srv, m := serve(t, options{sessionRate: 2})
	start := time.Now()
	_, ann := newApp(t)
	if code, body := call(t, ann, "POST", srv.URL+"/api/login?user=ann", nil); code != 200 {
		t.Fatalf("first new session (login) = %d %q", code, body)
	}
	anonymous := noRedirects()
	if resp, body := send(t, anonymous, "POST", srv.URL+"/api/put?key=k&value=v"); resp.StatusCode != 200 {
		t.Fatalf("second new session = %d %q", resp.StatusCode, body)
	}
	// The bucket refills one session every 30 s: the checks below hold
	// only while less than that has passed.
	refused := []struct{ method, path string }{
		{"POST", "/api/put?key=k&value=v"},
		{"POST", "/api/count"},
		{"POST", "/api/login?user=eve"},
	}
	for _, r := range refused {
		resp, body := send(t, anonymous, r.method, srv.URL+r.path)
		if time.Since(start) > 25*time.Second {
			t.Skipf("the machine took %v for a few requests; the rate limit refilled meanwhile", time.Since(start))
		}
		if resp.StatusCode != http.StatusTooManyRequests || len(resp.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("%s %s, a third new session = %d %q, cookies %q; want 429 and no cookie",
				r.method, r.path, resp.StatusCode, body, resp.Header.Values("Set-Cookie"))
		}
	}
	if st := m.Stats(); st.Created != 2 {
		t.Errorf("%d sessions created, want 2", st.Created)
	}
	// A page view stores nothing and is not limited; a session that
	// exists is never asked about, renewed or not.
	if resp, _ := send(t, anonymous, "GET", srv.URL+"/"); resp.StatusCode != 200 {
		t.Errorf("anonymous GET / = %d, want 200", resp.StatusCode)
	}
	for _, path := range []string{"/api/put?key=color&value=red", "/api/count", "/api/login?user=ann"} {
		if code, body := call(t, ann, "POST", srv.URL+path, nil); code != 200 {
			t.Errorf("POST %s in an existing session = %d %q, want 200", path, code, body)
		}
	}
	if _, body := call(t, ann, "GET", srv.URL+"/api/get?key=color", nil); body != "red\n" {
		t.Errorf("GET color in the existing session = %q, want %q", body, "red\n")
	}

	// Off by default.
	srv, m = serve(t, options{})
	for i := range 20 {
		if resp, body := send(t, anonymous, "POST", srv.URL+"/api/count"); resp.StatusCode != 200 {
			t.Fatalf("without -session-rate, new session %d = %d %q", i+1, resp.StatusCode, body)
		}
	}
	if st := m.Stats(); st.Created != 20 {
		t.Errorf("without -session-rate: %d sessions created, want 20", st.Created)
	}
}

// TestSQLitePrivateAndBounded runs the example on -store sqlite:PATH under
// umask 022: 5,000 anonymous puts from 4 clients at once make 5,000 new
// sessions, while a sampler reads the size of the write-ahead log. The
// database, -wal and -shm files are 0600 and the log never passes 32 MB.
func TestSQLitePrivateAndBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.sqlite")
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	store, closeStore, err := open.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeStore() })
	srv, m := serveStore(t, store, options{})

	const sessions, clients, limit = 5000, 4, 32 << 20
	var maxWAL atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > maxWAL.Load() {
				maxWAL.Store(fi.Size())
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	var (
		next   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	deadline := time.Now().Add(5 * time.Minute)
	for range clients {
		wg.Go(func() {
			c := noRedirects() // no jar: every put is a new visitor
			for next.Add(1) <= sessions && time.Now().Before(deadline) {
				req, _ := http.NewRequest("POST", srv.URL+"/api/put?key=k&value="+strings.Repeat("x", 500), nil)
				resp, err := c.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-sampled
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d puts failed", n, sessions)
	}
	if st := m.Stats(); st.Created != sessions {
		t.Errorf("%d sessions created in 5 minutes, want %d", st.Created, sessions)
	}
	if w := maxWAL.Load(); w >= limit {
		t.Errorf("the write-ahead log reached %.1f MB, want under 32 MB", float64(w)/(1<<20))
	} else {
		t.Logf("largest write-ahead log: %.1f MB", float64(w)/(1<<20))
	}
	if got, want := modes(path), [3]string{"0600", "0600", "0600"}; got != want {
		t.Errorf("database, -wal and -shm modes = %v, want %v", got, want)
	}
}

// modes returns the permission bits of the database at path and of its
// -wal and -shm files ("-" for a missing file).
func modes(path string) [3]string {
	var out [3]string
	for i, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			out[i] = "-"
			continue
		}
		out[i] = fmt.Sprintf("%#o", fi.Mode().Perm())
	}
	return out
}
