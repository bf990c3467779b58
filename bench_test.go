package httpsession_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/httpsession/httpsession"
)

// benchManager returns a Manager on a memstore with the real clock.
func benchManager(b *testing.B, cfg httpsession.Config) *httpsession.Manager {
	if cfg.Store == nil {
		cfg.Store = newMemStore(b)
	}
	m, err := httpsession.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

// seed creates a session with the handler and returns its cookie header.
func seed(b *testing.B, h http.Handler) string {
	w := do(b, h, "POST", "/", "")
	c := sessionCookie(w)
	if c == nil {
		b.Fatal("seed request set no cookie")
	}
	return "session=" + c.Value
}

func serve(b *testing.B, h http.Handler, cookie string) {
	r := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 {
		b.Fatalf("status %d", w.Code)
	}
}

func sessionHandler(m *httpsession.Manager, fn func(s *httpsession.Session)) http.Handler {
	return m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(httpsession.SessionFrom(r.Context()))
	}))
}

// BenchmarkRequest measures the request path through the middleware on a
// memstore: the Manager's own cost plus an in-process store.
func BenchmarkRequest(b *testing.B) {
	b.Run("NewVisitor", func(b *testing.B) {
		h := sessionHandler(benchManager(b, httpsession.Config{}), func(s *httpsession.Session) {
			s.Set("greeting", "hello, visitor!!") // 16 bytes
		})
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, "")
		}
	})
	b.Run("ReadOnly", func(b *testing.B) {
		m := benchManager(b, httpsession.Config{})
		cookie := seed(b, sessionHandler(m, func(s *httpsession.Session) { s.Set("user", "ann") }))
		h := sessionHandler(m, func(s *httpsession.Session) {
			if s.Get("user") != "ann" {
				b.Fatal("lost")
			}
		})
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, cookie)
		}
	})
	b.Run("ReadOnlyIdle", func(b *testing.B) {
		m := benchManager(b, httpsession.Config{IdleTimeout: 30 * 60e9})
		cookie := seed(b, sessionHandler(m, func(s *httpsession.Session) { s.Set("user", "ann") }))
		h := sessionHandler(m, func(s *httpsession.Session) { _ = s.Get("user") })
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, cookie)
		}
	})
	b.Run("Write", func(b *testing.B) {
		m := benchManager(b, httpsession.Config{})
		h := sessionHandler(m, func(s *httpsession.Session) { s.Incr("n", 1) })
		cookie := seed(b, h)
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, cookie)
		}
	})
	b.Run("Fat", func(b *testing.B) {
		m := benchManager(b, httpsession.Config{})
		value := strings.Repeat("v", 70) // 50 keys x ~80 bytes: ~4 KB
		cookie := seed(b, sessionHandler(m, func(s *httpsession.Session) {
			for i := range 50 {
				s.Set("key"+strconv.Itoa(i), value)
			}
		}))
		i := 0
		h := sessionHandler(m, func(s *httpsession.Session) {
			for _, k := range s.Keys() {
				_ = s.Get(k)
			}
			i++
			s.Set("key7", value[:i%70])
		})
		b.ReportAllocs()
		for b.Loop() {
			serve(b, h, cookie)
		}
	})
	b.Run("WriteParallel", func(b *testing.B) {
		m := benchManager(b, httpsession.Config{})
		h := sessionHandler(m, func(s *httpsession.Session) { s.Incr("n", 1) })
		cookies := make([]string, 64)
		for i := range cookies {
			cookies[i] = seed(b, h)
		}
		var next atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			cookie := cookies[next.Add(1)%int64(len(cookies))]
			for pb.Next() {
				serve(b, h, cookie)
			}
		})
	})
}

// BenchmarkBaseline is the same request with no session middleware: the
// floor the Manager's cost is measured against.
func BenchmarkBaseline(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	b.ReportAllocs()
	for b.Loop() {
		serve(b, h, "session=xyz")
	}
}
