package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// client is an HTTP client with its own cookie jar and User-Agent.
type client struct {
	c  *http.Client
	ua string
}

func newClient(ua string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{&http.Client{Jar: jar, Timeout: 10 * time.Second}, ua}
}

func (b *client) do(t *testing.T, method, url string, form url.Values) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", b.ua)
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestDevices(t *testing.T) {
	srv := newServer(t, "")
	phone, laptop, tablet := newClient("Phone/1.0"), newClient("Laptop/2.0"), newClient("Tablet/3.0")
	for _, b := range []*client{phone, laptop, tablet} {
		b.do(t, "POST", srv.URL+"/login", url.Values{"user": {"ann"}})
	}
	_, page := laptop.do(t, "GET", srv.URL+"/devices", nil)
	for _, want := range []string{"Phone/1.0", "Laptop/2.0", "Tablet/3.0", "this device", "127.0.0.1"} {
		if !strings.Contains(page, want) {
			t.Fatalf("devices page lacks %q:\n%s", want, page)
		}
	}
	_, page = laptop.do(t, "POST", srv.URL+"/devices/signout", url.Values{"keep": {"1"}})
	if !strings.Contains(page, "Signed out of 2 other devices.") || !strings.Contains(page, "Signed in as") {
		t.Fatalf("after signing out the others:\n%s", page)
	}
	for _, b := range []*client{phone, tablet} {
		if _, page := b.do(t, "GET", srv.URL+"/", nil); strings.Contains(page, "Signed in as") {
			t.Fatalf("%s is still signed in", b.ua)
		}
	}
	_, page = laptop.do(t, "POST", srv.URL+"/devices/signout", nil)
	if !strings.Contains(page, "Signed out everywhere.") || strings.Contains(page, "Signed in as") {
		t.Fatalf("after signing out everywhere:\n%s", page)
	}
	if code, _ := laptop.do(t, "GET", srv.URL+"/api/get?key=user", nil); code != http.StatusNotFound {
		t.Fatal("the laptop is still signed in")
	}
}

func TestAdminMountedBehindPassword(t *testing.T) {
	without := newServer(t, "")
	if code, _ := newClient("x").do(t, "GET", without.URL+"/admin/stats", nil); code != http.StatusNotFound {
		t.Fatalf("admin reachable without a password configured: %d", code)
	}
	srv := newServer(t, "s3cret")
	b := newClient("x")
	b.do(t, "POST", srv.URL+"/api/login?user=ann", nil)
	if code, _ := b.do(t, "GET", srv.URL+"/admin/stats", nil); code != http.StatusUnauthorized {
		t.Fatalf("admin without credentials: %d", code)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/admin/owners/ann", nil)
	req.SetBasicAuth("admin", "s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("admin with credentials: %d", resp.StatusCode)
	}
}
