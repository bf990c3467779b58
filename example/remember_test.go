package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// raw makes one request with the Cookie header given (no cookie jar) and
// returns the status, the body and the session cookie it sets, if any.
func raw(t *testing.T, method, target, cookie string) (int, string, *http.Cookie) {
	t.Helper()
	req, _ := http.NewRequest(method, target, nil)
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var set *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			set = c
		}
	}
	return resp.StatusCode, string(b), set
}

// A remember-me login gets a persistent cookie of the -remember lifetime,
// a plain login a browser-session cookie; the form's box does the same.
func TestRememberMe(t *testing.T) {
	srv, _ := serve(t, options{remember: 7 * 24 * time.Hour})
	_, _, c := raw(t, "POST", srv.URL+"/api/login?user=ann&remember=1", "")
	if c == nil || c.MaxAge < 7*24*3600-60 || c.MaxAge > 7*24*3600 || c.Expires.IsZero() {
		t.Fatalf("remember-me login cookie: %+v", c)
	}
	_, _, c = raw(t, "POST", srv.URL+"/api/login?user=bob", "")
	if c == nil || c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("plain login cookie: %+v", c)
	}

	form := url.Values{"user": {"cid"}, "remember": {"1"}}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Post(srv.URL+"/login", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var persistent bool
	for _, c := range resp.Cookies() {
		persistent = persistent || c.Name == "session" && c.MaxAge > 0
	}
	if !persistent {
		t.Fatal("the login form's remember-me box gave no persistent cookie")
	}
}

// A request that still carries the pre-login token right after the login
// (another tab) gets no Set-Cookie, and the login session stays logged in.
func TestPreLoginTokenAfterLogin(t *testing.T) {
	srv, _ := serve(t, options{})
	_, _, c := raw(t, "POST", srv.URL+"/api/put?key=cart&value=tea", "")
	if c == nil {
		t.Fatal("no session")
	}
	old := "session=" + c.Value
	_, _, c = raw(t, "POST", srv.URL+"/api/login?user=ann", old)
	if c == nil {
		t.Fatal("login set no cookie")
	}
	login := "session=" + c.Value
	for _, path := range []string{"/api/put?key=x&value=y", "/api/count", "/api/logout", "/api/get?key=cart"} {
		code, body, set := raw(t, "POST", srv.URL+path, old)
		if set != nil || strings.Contains(body, "tea") {
			t.Fatalf("%s with the pre-login token: %d %q, Set-Cookie %+v", path, code, body, set)
		}
	}
	if code, body, _ := raw(t, "GET", srv.URL+"/api/get?key=user", login); code != 200 || body != "ann\n" {
		t.Fatalf("the login session after the old tab's requests: %d %q", code, body)
	}
}

// With a malformed session cookie in front (a sibling subdomain's, say),
// the valid one behind it is read.
func TestDuplicateSessionCookies(t *testing.T) {
	srv, _ := serve(t, options{})
	_, _, c := raw(t, "POST", srv.URL+"/api/login?user=ann", "")
	if code, body, _ := raw(t, "GET", srv.URL+"/api/get?key=user", "session=junk; session="+c.Value); code != 200 || body != "ann\n" {
		t.Fatalf("session=junk; session=VALID: %d %q", code, body)
	}
}
