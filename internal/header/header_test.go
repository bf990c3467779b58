package header_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/httpsession/httpsession/internal/header"
)

// SetCookie writes what http.SetCookie writes, for plain values by hand and for
// the rest through net/http. (The session cookie's own attributes are
// tested with the Cookie transport.)
func TestAddMatchesSetCookie(t *testing.T) {
	for _, hc := range []http.Cookie{
		{Name: "session", Value: "abc-_DEF123", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode},
		{Name: "s", Value: "YWJj==", Path: "/app", Domain: "example.com", Secure: true, MaxAge: 60, Expires: time.Unix(1e9, 0)},
		{Name: "s", Value: "", Path: "/", MaxAge: -1, Expires: time.Unix(1, 0), Partitioned: true, Secure: true},
		{Name: "s", Value: "needs quoting, a space", Path: "/"},
		{Name: "s", Value: "semi;colon\x01", Path: "/"},
	} {
		got, want := httptest.NewRecorder(), httptest.NewRecorder()
		header.SetCookie(got, &hc, header.CookieAttrs(hc.Name, hc.Path, hc.Domain))
		http.SetCookie(want, &hc)
		if g, w := got.Header().Get("Set-Cookie"), want.Header().Get("Set-Cookie"); g != w {
			t.Errorf("value %q:\n got %s\nwant %s", hc.Value, g, w)
		}
	}
	if a := header.CookieAttrs("bad name", "/", ""); a != "" {
		t.Errorf("CookieAttrs of a name net/http refuses = %q, want \"\"", a)
	}
}

// Add and Set give what http.Header's own give, and a later Add to the
// header appends without writing into the caller's slot.
func TestAddSet(t *testing.T) {
	h := http.Header{}
	var vary, cc [1]string
	header.Add(h, "Vary", "Cookie", &vary)
	header.Set(h, "Cache-Control", "no-store", &cc)
	h.Add("Vary", "Accept")
	if got := h.Values("Vary"); len(got) != 2 || got[0] != "Cookie" || got[1] != "Accept" || vary[0] != "Cookie" {
		t.Fatalf("Vary = %q, slot %q", got, vary)
	}
	header.Add(h, "Vary", "Origin", &vary)
	if got := h.Values("Vary"); len(got) != 3 || got[2] != "Origin" {
		t.Fatalf("Add to an existing header: %q", got)
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control = %q", got)
	}
}
