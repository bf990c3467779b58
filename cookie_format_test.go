package httpsession

import (
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// The cookie the transport formats by hand is, byte for byte, the one
// http.SetCookie writes, whatever the attributes.
func TestSetCookieMatchesNetHTTP(t *testing.T) {
	now := time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC)
	token := newToken()
	key := Key{Hash: []byte(strings.Repeat("h", 32))}
	configs := []Cookie{
		{},
		{Name: "__Host-s", Persist: true},
		{Name: "id", Domain: "example.com", Path: "/app", Secure: true, SameSite: http.SameSiteStrictMode, Partitioned: true},
		{Domain: ".example.com", SameSite: http.SameSiteNoneMode, Secure: true, AllowScripts: true},
		{Domain: "bad domain!", Path: "/a;b\x01"},
		{Keys: []Key{key}},
		{Keys: []Key{{Hash: key.Hash, Block: []byte(strings.Repeat("b", 16))}}, SameSite: http.SameSiteDefaultMode},
	}
	// net/http logs the bad Domain and Path it drops.
	log.SetOutput(io.Discard)
	defer log.SetOutput(os.Stderr)
	for i, cfg := range configs {
		c, err := cfg.prepare(func() time.Time { return now }, false)
		if err != nil {
			t.Fatal(i, err)
		}
		if c.attrs == "" {
			t.Fatalf("config %d: no attributes formatted; every cookie would go through http.SetCookie", i)
		}
		for _, tlsOn := range []bool{false, true} {
			r := httptest.NewRequest("GET", "/", nil)
			if tlsOn {
				r.TLS = &tls.ConnectionState{}
			}
			for _, expires := range []time.Time{{}, now.Add(time.Hour), now.Add(-time.Hour), now.Add(300 * time.Millisecond)} {
				w := httptest.NewRecorder()
				c.WriteToken(w, r, token, expires)
				got := w.Header()["Set-Cookie"]
				if len(got) != 1 {
					t.Fatalf("config %d: Set-Cookie %q", i, got)
				}
				// The same cookie through net/http: parse the value back
				// from what was written, so signed values compare too.
				value := strings.TrimPrefix(strings.SplitN(got[0], ";", 2)[0], c.Name+"=")
				hc := c.cookie(r, value)
				if !expires.IsZero() {
					hc.Expires = expires.UTC()
					hc.MaxAge = max(int(expires.Sub(now).Round(time.Second)/time.Second), -1)
					if hc.MaxAge == 0 {
						hc.MaxAge = -1
					}
				}
				if want := hc.String(); got[0] != want {
					t.Errorf("config %d, TLS %v, expires %v:\n got %s\nwant %s", i, tlsOn, expires, got[0], want)
				}
			}
			w := httptest.NewRecorder()
			w.Header().Add("Set-Cookie", "other=1")
			c.ClearToken(w, r)
			hc := c.cookie(r, "")
			hc.MaxAge, hc.Expires = -1, time.Unix(1, 0)
			if got, want := w.Header()["Set-Cookie"], []string{"other=1", hc.String()}; strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("config %d: ClearToken wrote %q, want %q", i, got, want)
			}
		}
	}
}
