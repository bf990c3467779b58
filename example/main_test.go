package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
)

// newServer serves the whole example, as main does, on a bbolt store in a
// temporary directory; with a password, the admin page too.
func newServer(t *testing.T, adminPassword string) *httptest.Server {
	srv, _ := serve(t, options{adminPassword: adminPassword})
	return srv
}

// serve serves the whole example with the configuration main makes from o
// (o.storeURL is not used: the store is a bbolt file in a temporary
// directory), and returns the server and its Manager.
func serve(t *testing.T, o options) (*httptest.Server, *httpsession.Manager) {
	store, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return serveStore(t, store, o)
}

// serveStore is serve on the given store.
func serveStore(t *testing.T, store httpsession.Store, o options) (*httptest.Server, *httpsession.Manager) {
	m, err := httpsession.New(managerConfig(store, o))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	h, err := app(m, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, m
}

// newApp serves the example without the admin page and returns a client
// with a cookie jar.
func newApp(t *testing.T) (*httptest.Server, *http.Client) {
	jar, _ := cookiejar.New(nil)
	return newServer(t, ""), &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func call(t *testing.T, c *http.Client, method, url string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, url, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAPI(t *testing.T) {
	srv, c := newApp(t)
	steps := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/api/get?key=color", 404, "not found\n"},
		{"POST", "/api/put?key=color&value=blue", 200, "ok\n"},
		{"GET", "/api/get?key=color", 200, "blue\n"},
		{"POST", "/api/count", 200, "1\n"},
		{"POST", "/api/count", 200, "2\n"},
		{"POST", "/api/login?user=ann", 200, "ok\n"},
		{"GET", "/api/get?key=user", 200, "ann\n"},
		{"GET", "/api/get?key=color", 200, "blue\n"}, // login keeps the data
		{"POST", "/api/logout", 200, "ok\n"},
		{"GET", "/api/get?key=user", 404, "not found\n"},
		{"POST", "/api/put?value=x", 400, "missing key\n"},
	}
	for _, s := range steps {
		code, body := call(t, c, s.method, srv.URL+s.path, nil)
		if code != s.code || body != s.body {
			t.Fatalf("%s %s = %d %q, want %d %q", s.method, s.path, code, body, s.code, s.body)
		}
	}
}

func TestPages(t *testing.T) {
	srv, c := newApp(t)
	_, page := call(t, c, "GET", srv.URL+"/", nil)
	if !strings.Contains(page, "You have no session yet") {
		t.Fatalf("first visit: %s", page)
	}
	_, page = call(t, c, "POST", srv.URL+"/login", url.Values{"user": {"<b>ann</b>"}})
	if !strings.Contains(page, "Signed in as <b>&lt;b&gt;ann&lt;/b&gt;</b>") || !strings.Contains(page, "Welcome") {
		t.Fatalf("after login (escaped name and flash expected): %s", page)
	}
	call(t, c, "POST", srv.URL+"/cart", url.Values{"item": {"apple"}})
	_, page = call(t, c, "POST", srv.URL+"/cart", url.Values{"item": {"bread"}})
	if !strings.Contains(page, "<li>apple</li><li>bread</li>") {
		t.Fatalf("cart: %s", page)
	}
	_, page = call(t, c, "GET", srv.URL+"/", nil)
	if strings.Contains(page, "Added bread") {
		t.Fatal("flash message shown twice")
	}
	_, page = call(t, c, "POST", srv.URL+"/logout", url.Values{})
	if !strings.Contains(page, "You are signed out.") || strings.Contains(page, "Signed in as") || strings.Contains(page, "<li>apple") {
		t.Fatalf("after logout: %s", page)
	}
}
