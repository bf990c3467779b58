package replicated

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
)

// loadSession is one session of the kill test and the clients that use it.
type loadSession struct {
	jar   http.CookieJar
	token string       // the session cookie after the first request
	incrs atomic.Int64 // increments that answered 200, the first included
}

// TestKillPrimaryUnderLoad runs a Manager on a primary and a replica
// memcached while 8 clients send requests that increment a counter and set
// a value in their session, and:
//
//  1. after about 1 s kills the primary (SIGKILL, as a crash);
//  2. after about 1 s more restarts it, empty, and waits until it is back
//     as a replica and every session has been written since;
//  3. kills the replica, now the writer, and runs about 1 s more.
//
// Four clients have a session each, so their requests on it are
// sequential; the other four share two sessions in pairs, so their
// requests race (and conflict) on them, across each kill too.
//
// It asserts that every request was answered 200 (no failed request); that
// every session still has its first token (none was lost and started
// afresh) and the value it set; that its counter equals the number of
// increments that answered 200 (none lost, none counted twice); and, for a
// client alone on its session, that each answer's counter is one more than
// the last, so the counter never went backwards even for a moment.
func TestKillPrimaryUnderLoad(t *testing.T) {
	srvP, srvR := testservice.Memcached(t), testservice.Memcached(t)
	if srvP.External() {
		t.Skip("needs private memcached servers, to kill them")
	}
	primary := newMemcachestore(t, newMemcacheClient(t, srvP))
	replica := newMemcachestore(t, newMemcacheClient(t, srvR))
	const retry = 300 * time.Millisecond
	s := newReplicated(t, primary, []httpsession.Store{replica}, Options{RetryAfter: retry})

	var (
		mu       sync.Mutex
		failures []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf(format, args...))
	}
	m, err := httpsession.New(httpsession.Config{
		Store: s,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			fail("%s: %v", r.URL, err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/incr", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		n := s.Incr("n", 1)
		s.Set("last", r.URL.Query().Get("i"))
		fmt.Fprint(w, n)
	})
	mux.HandleFunc("/peek", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		n, _ := httpsession.Get[int64](s, "n")
		last, _ := httpsession.Get[string](s, "last")
		fmt.Fprintf(w, "%t %d %s", s.IsNew(), n, last)
	})
	srv := httptest.NewServer(m.Handler(mux))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)

	get := func(c *http.Client, path string) (int, string, error) {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}

	// Six sessions, each started by one request.
	sessions := make([]*loadSession, 6)
	for i := range sessions {
		jar, _ := cookiejar.New(nil)
		ls := &loadSession{jar: jar}
		if code, body, err := get(&http.Client{Jar: jar}, "/incr?i=0"); code != 200 || body != "1" {
			t.Fatalf("first request of session %d: %d %q %v", i, code, body, err)
		}
		ls.token = jar.Cookies(u)[0].Value
		ls.incrs.Store(1)
		sessions[i] = ls
	}

	var requests, errs atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 8 {
		ls := sessions[min(c, 4+(c-4)/2)] // 0-3 alone; 4,5 and 6,7 in pairs
		alone := c < 4
		wg.Go(func() {
			client := &http.Client{Jar: ls.jar, Timeout: 30 * time.Second}
			last := int64(1)
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				requests.Add(1)
				code, body, err := get(client, fmt.Sprintf("/incr?i=%d-%d", c, i))
				if err != nil || code != 200 {
					errs.Add(1)
					fail("client %d request %d: %d %q %v", c, i, code, body, err)
					continue
				}
				ls.incrs.Add(1)
				n, _ := strconv.ParseInt(body, 10, 64)
				if alone && n != last+1 {
					fail("client %d request %d: counter %d after %d", c, i, n, last)
				}
				last = n
			}
		})
	}

	time.Sleep(time.Second)
	before := requests.Load()
	srvP.Kill()
	t.Logf("primary killed after %d requests", before)
	time.Sleep(time.Second)

	srvP.Restart()
	deadline := time.Now().Add(10 * retry)
	for len(s.Status().Down) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Status(); len(st.Down) > 0 {
		t.Errorf("primary not back as a replica %v after its restart: %+v", 10*retry, st)
	}
	// Every session written since it came back.
	var since []int64
	for _, ls := range sessions {
		since = append(since, ls.incrs.Load())
	}
	for i, ls := range sessions {
		for ls.incrs.Load() <= since[i] && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	t.Logf("primary restarted and back as a replica after %d requests", requests.Load())
	srvR.Kill()
	t.Logf("replica killed after %d requests", requests.Load())
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	lost := 0
	for i, ls := range sessions {
		code, body, err := get(&http.Client{Jar: ls.jar}, "/peek")
		want := fmt.Sprintf("false %d ", ls.incrs.Load())
		token := ""
		if cs := ls.jar.Cookies(u); len(cs) > 0 {
			token = cs[0].Value
		}
		if code != 200 || len(body) <= len(want) || body[:len(want)] != want || token != ls.token {
			lost++
			t.Errorf("session %d: /peek = %d %q %v, want %q and a value; token changed: %t", i, code, body, err, want+"…", token != ls.token)
		}
	}
	st := s.Status()
	t.Logf("requests %d (%d after the first kill), errors %d, sessions lost %d of %d; status %+v",
		requests.Load(), requests.Load()-before, errs.Load(), lost, len(sessions), st)
	mu.Lock()
	for _, f := range failures {
		t.Error(f)
	}
	mu.Unlock()
	if st.Writer != 0 || st.Failovers != 2 {
		t.Errorf("status %+v: want writer 0 (the primary again) after 2 failovers", st)
	}
	if requests.Load()-before < 100 {
		t.Errorf("only %d requests after the first kill", requests.Load()-before)
	}
}
