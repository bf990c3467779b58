package transport_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
	"github.com/httpsession/httpsession/store/memstore"
	"github.com/httpsession/httpsession/transport"
)

func stores(t *testing.T) map[string]httpsession.Store {
	mem := memstore.New(memstore.Options{})
	t.Cleanup(func() { mem.Close() })
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bolt.Close() })
	return map[string]httpsession.Store{"memstore": mem, "boltstore": bolt}
}

// formApp parses the form itself, under its own body limit when limit > 0,
// and answers with the session's "user" and the form fields it saw.
func formApp(limit int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		if r.URL.Path == "/login" {
			s.Set("user", "ann")
			return
		}
		if limit > 0 {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		if err := r.ParseForm(); err != nil {
			if mbe := new(http.MaxBytesError); errors.As(err, &mbe) {
				http.Error(w, "too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "bad form: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, s.Get("user"), " ", r.PostForm.Get("a"), " ", len(r.PostForm))
	})
}

func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// Form reads the token from the start of the body and leaves the body
// whole: the handler parses every field, its own MaxBytesReader still
// answers 413, and net/http's own form limit is the handler's error to see.
func TestFormLeavesBodyToHandler(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			m, err := httpsession.New(httpsession.Config{Store: store, Transport: transport.Form{}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			limited := httptest.NewServer(m.Handler(formApp(1 << 10)))
			defer limited.Close()
			open := httptest.NewServer(m.Handler(formApp(0)))
			defer open.Close()

			resp, err := http.Post(limited.URL+"/login", "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			tok := resp.Header.Get("Session-Token")
			if len(tok) != 43 {
				t.Fatalf("token header %q", tok)
			}
			field := "session=" + url.QueryEscape(tok)
			if code, body := post(t, limited.URL, field+"&a=1&b=2"); code != 200 || body != "ann 1 3" {
				t.Fatalf("small form: %d %q", code, body)
			}
			if code, body := post(t, limited.URL, field+"&a="+strings.Repeat("x", 1<<20)); code != http.StatusRequestEntityTooLarge {
				t.Fatalf("1 MB body under a 1 KB MaxBytesReader: %d %q", code, body)
			}
			if code, body := post(t, open.URL, field+"&a="+strings.Repeat("x", 11<<20)); code != http.StatusBadRequest {
				t.Fatalf("11 MB form: %d %q; the handler must see ParseForm's error", code, body)
			}
			// Only the first 4 KiB are searched for the token.
			if code, body := post(t, open.URL, "pad="+strings.Repeat("x", 5000)+"&a=1&"+field); code != 200 || body != "<nil> 1 3" {
				t.Fatalf("token after 4 KiB: %d %q", code, body)
			}
		})
	}
}

// Header reads a bearer token and names its header in Vary.
func TestHeader(t *testing.T) {
	for name, store := range stores(t) {
		t.Run(name, func(t *testing.T) {
			m, err := httpsession.New(httpsession.Config{Store: store, Transport: transport.Header{}})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			srv := httptest.NewServer(m.Handler(formApp(0)))
			defer srv.Close()
			resp, err := http.Post(srv.URL+"/login", "text/plain", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			tok := resp.Header.Get("Session-Token")
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "ann  0" || resp.Header.Get("Vary") != "Authorization" {
				t.Fatalf("bearer request: %q, Vary %q", b, resp.Header.Get("Vary"))
			}
		})
	}
}
