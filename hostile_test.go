package httpsession_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/transport"
)

// rawRequest sends bytes as they are, so that headers a Go client would
// refuse (NUL, raw unicode, quotes) reach the server, and returns the status.
// The server may answer before it has read a large body and then close the
// connection, which makes the rest of the write fail (connection reset):
// that is a valid answer, so the response is read while the request is
// still being written, and a write error counts only when no response came.
func rawRequest(t *testing.T, addr, req string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(time.Minute))
	written := make(chan error, 1)
	go func() {
		_, err := io.WriteString(conn, req)
		written <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	conn.Close() // unblocks the writer if the server stopped reading
	writeErr := <-written
	if err != nil {
		t.Fatalf("no response to a %d-byte request: %v (write: %v)", len(req), err, writeErr)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Hostile requests always get a 2xx or 4xx, never a 5xx, and a token that
// cannot be valid never costs a store call.
func TestHostileInput(t *testing.T) {
	for _, keys := range []bool{false, true} {
		t.Run(fmt.Sprintf("signed=%v", keys), func(t *testing.T) {
			cfg := httpsession.Config{}
			if keys {
				cfg.Transport = &httpsession.Cookie{Keys: []httpsession.Key{{Hash: []byte(strings.Repeat("k", 32))}}}
			}
			m, cs, _ := newManager(t, cfg)
			srv := httptest.NewServer(m.Handler(api()))
			defer srv.Close()
			addr := srv.Listener.Addr().String()

			many := make([]string, 1000)
			for i := range many {
				many[i] = fmt.Sprintf("c%d=v%d", i, i)
			}
			bigForm := "session=" + strings.Repeat("A", 43) + "&" + strings.Repeat("x=y&", 200_000)
			cases := map[string]string{
				"empty":             "Cookie: session=\r\n",
				"64 KB":             "Cookie: session=" + strings.Repeat("a", 64<<10) + "\r\n",
				"NUL":               "Cookie: session=abc\x00def\r\n",
				"dot-dot":           "Cookie: session=../../../../etc/passwd\r\n",
				"backslash":         "Cookie: session=..\\..\\windows\\win.ini\r\n",
				"unicode":           "Cookie: session=ключ-🔑-" + strings.Repeat("é", 20) + "\r\n",
				"quotes":            "Cookie: session=\"" + strings.Repeat("A", 41) + "\"\r\n",
				"semicolons":        "Cookie: session=;;;session=;a=b;\r\n",
				"1000 cookies":      "Cookie: " + strings.Join(many, "; ") + "\r\n",
				"duplicate cookies": "Cookie: session=" + strings.Repeat("B", 43) + "; session=" + strings.Repeat("C", 43) + "\r\n",
				"CR in value":       "Cookie: session=abc\rdef\r\n",
				"control chars":     "Cookie: session=\x01\x02\x7f\r\n",
			}
			for name, header := range cases {
				t.Run(name, func(t *testing.T) {
					cs.reset()
					req := "POST /put?key=k&value=v HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n" + header + "\r\n"
					code := rawRequest(t, addr, req)
					if code >= 500 {
						t.Fatalf("status %d", code)
					}
					// Only a well-formed 43-character token may reach the store, and
					// with signing keys not even that, unless it verifies.
					if got := cs.gets.Load(); got > 0 && (keys || name != "duplicate cookies") {
						t.Fatalf("%d store gets for a token that cannot be valid", got)
					}
				})
			}
			t.Run("form token on a cookie-only route", func(t *testing.T) {
				token := sessionCookie(do(t, m.Handler(api()), "POST", "/put?key=a&value=1", "")).Value
				cs.reset()
				body := "session=" + token
				req := fmt.Sprintf("POST /get?key=a&session=%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", token, len(body), body)
				if code := rawRequest(t, addr, req); code != http.StatusNotFound {
					t.Fatalf("status %d: the form or query token was used", code)
				}
				if cs.gets.Load() != 0 {
					t.Fatal("a store call for a token the transport must ignore")
				}
			})
			t.Run("huge form", func(t *testing.T) {
				cs.reset()
				req := fmt.Sprintf("POST /put?key=k&value=v HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(bigForm), bigForm)
				if code := rawRequest(t, addr, req); code >= 500 {
					t.Fatalf("status %d", code)
				}
				if cs.gets.Load() != 0 {
					t.Fatal("a store call for a form token on a cookie route")
				}
			})
		})
	}
}

// The form transport reads a huge form without a 5xx.
func TestHostileFormTransport(t *testing.T) {
	m, cs, _ := newManager(t, httpsession.Config{Transport: transport.Form{Query: true}})
	srv := httptest.NewServer(m.Handler(api()))
	defer srv.Close()
	for name, body := range map[string]string{
		"huge":      strings.Repeat("x=y&", 3_000_000), // over net/http's 10 MB form limit
		"garbage":   "session=%zz%00&session=../x",
		"unicode":   "session=" + strings.Repeat("ü", 30),
		"oversized": "session=" + strings.Repeat("A", 64<<10),
	} {
		t.Run(name, func(t *testing.T) {
			cs.reset()
			req := fmt.Sprintf("POST /put?key=k&value=v HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
			if code := rawRequest(t, srv.Listener.Addr().String(), req); code >= 500 {
				t.Fatalf("status %d", code)
			}
			if cs.gets.Load() != 0 {
				t.Fatal("a store call for an invalid form token")
			}
		})
	}
}
