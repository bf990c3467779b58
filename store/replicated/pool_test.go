package replicated

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/memcachestore"
)

// Two memcached pools of two servers each, one pool the primary: when a
// server of the primary pool dies, the sessions it held are served by the
// other pool, none is lost, and every request is answered 200; when it
// comes back (empty) the primary pool rejoins as a replica.
func TestPoolServerKilled(t *testing.T) {
	a1, a2 := testservice.Memcached(t), testservice.Memcached(t)
	if a1.External() {
		t.Skip("needs private memcached servers, to kill one")
	}
	b1, b2 := testservice.Memcached(t), testservice.Memcached(t)
	newPool := func(servers ...*testservice.Server) *memcachestore.Store {
		var addrs []string
		for _, s := range servers {
			addrs = append(addrs, s.Addr())
		}
		var ss memcache.ServerList
		if err := ss.SetServers(addrs...); err != nil {
			t.Fatal(err)
		}
		c := memcache.NewFromSelector(&ss)
		c.Timeout = 5 * time.Second // the race detector is slow
		t.Cleanup(func() { c.Close() })
		s, err := memcachestore.New(c, memcachestore.Options{Prefix: testPrefix(), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	const retry = 200 * time.Millisecond
	s := newReplicated(t, newPool(a1, a2), []httpsession.Store{newPool(b1, b2)}, Options{RetryAfter: retry})
	m, err := httpsession.New(httpsession.Config{Store: s, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strconv.FormatInt(httpsession.SessionFrom(r.Context()).Incr("n", 1), 10)))
	}))
	incr := func(token string) (int, string, string) {
		r := httptest.NewRequest("POST", "/", nil)
		if token != "" {
			r.Header.Set("Cookie", "session="+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		for _, c := range w.Result().Cookies() {
			if c.Name == "session" {
				token = c.Value
			}
		}
		return w.Code, w.Body.String(), token
	}
	tokens := make([]string, 12) // about half of them on a2
	for i := range tokens {
		code, body, token := incr("")
		if code != 200 || body != "1" {
			t.Fatalf("first request: %d %q", code, body)
		}
		tokens[i] = token
	}
	round := func(n int, when string) {
		t.Helper()
		for i, token := range tokens {
			code, body, got := incr(token)
			if code != 200 || body != strconv.Itoa(n) || got != token {
				t.Fatalf("%s: session %d answered %d %q (new token: %t); want 200 %q on the same session", when, i, code, body, got != token, strconv.Itoa(n))
			}
		}
	}
	round(2, "with every server up")
	a2.Kill()
	round(3, "with a server of the primary pool killed")
	if st := s.Status(); st.Writer != 1 {
		t.Fatalf("the writer did not move to the other pool: %+v", st)
	}
	a2.Restart()
	deadline := time.Now().Add(30 * time.Second)
	n := 4
	for ; len(s.Status().Down) != 0; n++ {
		if time.Now().After(deadline) {
			t.Fatalf("the primary pool did not rejoin within 30 s: %+v", s.Status())
		}
		time.Sleep(retry)
		round(n, "after the server came back")
	}
	round(n, "after the primary pool rejoined")
	if st := s.Status(); st.Writer != 1 || st.Failovers != 1 {
		t.Fatalf("after the rejoin: %+v; want the other pool still writing, one failover", st)
	}
}
