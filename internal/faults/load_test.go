package faults

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/open"
)

// app answers every route with the client's marker, so that each 2xx
// response also checks that the session it was given is the client's own.
func app() http.Handler {
	answer := func(w http.ResponseWriter, s *httpsession.Session) {
		marker, _ := httpsession.Get[string](s, "marker")
		fmt.Fprintf(w, "marker=%s\n", marker)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /marker", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Set("marker", r.URL.Query().Get("v"))
		answer(w, s)
	})
	mux.HandleFunc("GET /read", func(w http.ResponseWriter, r *http.Request) {
		answer(w, httpsession.SessionFrom(r.Context()))
	})
	mux.HandleFunc("POST /set", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Set("v", r.URL.Query().Get("v"))
		answer(w, s)
	})
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Incr("n", 1)
		answer(w, s)
	})
	return mux
}

// unavailableBody is what the tests' ErrorHandler answers, so that a 503
// from anywhere else is not taken for it.
const unavailableBody = "session store unavailable"

// maxErrorSamples bounds the distinct error messages an errorCounter keeps.
const maxErrorSamples = 6

// errorCounter is the ErrorHandler of the tests: it answers 503 and counts
// the errors it was given, before and after a mark (the restart).
type errorCounter struct {
	mu       sync.Mutex
	after    bool        // mark was called
	n        [2]int      // before and after the mark
	timeouts int         // errors wrapping context.DeadlineExceeded: StoreTimeout ended the call
	samples  [2][]string // the first distinct messages before and after the mark
}

func (c *errorCounter) handle(w http.ResponseWriter, r *http.Request, err error) {
	c.mu.Lock()
	phase := 0
	if c.after {
		phase = 1
	}
	c.n[phase]++
	if errors.Is(err, context.DeadlineExceeded) {
		c.timeouts++
	}
	if msg := err.Error(); len(c.samples[phase]) < maxErrorSamples && !slices.Contains(c.samples[phase], msg) {
		c.samples[phase] = append(c.samples[phase], msg)
	}
	c.mu.Unlock()
	http.Error(w, unavailableBody, http.StatusServiceUnavailable)
}

// mark starts counting errors as after.
func (c *errorCounter) mark() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.after = true
}

// errorCounts is a copy of an errorCounter's counts.
type errorCounts struct {
	before, after, timeouts     int
	samplesBefore, samplesAfter []string
}

func (c *errorCounter) counts() errorCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errorCounts{
		before: c.n[0], after: c.n[1], timeouts: c.timeouts,
		samplesBefore: slices.Clone(c.samples[0]), samplesAfter: slices.Clone(c.samples[1]),
	}
}

// openStore opens the store of rawURL and closes it when the test ends.
func openStore(t *testing.T, rawURL string) httpsession.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, closeFn, err := open.Open(ctx, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := closeFn(); err != nil {
			t.Errorf("closing the store: %v", err)
		}
	})
	return s
}

// newManager returns a Manager that logs nothing (the ErrorHandler counts
// the failures) and is closed when the test ends.
func newManager(t *testing.T, cfg httpsession.Config) *httpsession.Manager {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	m, err := httpsession.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// verifyNoLeaks checks, when the test ends, that no goroutine the test
// started is left. Call it first: cleanups run last in, first out, so the
// check comes after everything the test registers later is closed.
func verifyNoLeaks(t *testing.T) {
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
}

// server is an HTTP test server on 127.0.0.1 whose error log is counted:
// a handler panic that net/http recovered shows up there.
type server struct {
	*httptest.Server
	errorLog *logLines
}

// serve starts a server for h on 127.0.0.1, closed when the test ends.
func serve(t *testing.T, h http.Handler) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	errorLog := &logLines{}
	srv.Config.ErrorLog = log.New(errorLog, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return &server{Server: srv, errorLog: errorLog}
}

// result is the outcome of one request.
type result struct {
	start, end time.Time
	status     int // 0 when err is set
	body       string
	err        error
}

func (r result) latency() time.Duration { return r.end.Sub(r.start) }

// marker returns the marker of a 2xx response.
func (r result) marker() string {
	m, _ := strings.CutPrefix(strings.TrimSpace(r.body), "marker=")
	return m
}

// outcome sorts results.
type outcome uint8

const (
	succeeded   outcome = iota // 2xx
	unavailable                // the ErrorHandler's 503
	badStatus                  // any other status
	dropped                    // the connection ended without a response, as after a panic
	timedOut                   // the client's timeout ended the request: it hung
)

func (r result) outcome() outcome {
	var ne net.Error
	switch {
	case r.err != nil && errors.As(r.err, &ne) && ne.Timeout():
		return timedOut
	case r.err != nil:
		return dropped
	case r.status >= 200 && r.status < 300:
		return succeeded
	case r.status == http.StatusServiceUnavailable && strings.TrimSpace(r.body) == unavailableBody:
		return unavailable
	}
	return badStatus
}

// client is one user: an HTTP client with its own cookie jar and so its
// own session.
type client struct {
	id      int
	base    *url.URL
	marker  string
	jar     *cookiejar.Jar
	tr      *http.Transport
	hc      *http.Client
	results []result
}

// newClients returns n clients of the server at base whose connections
// are closed when the test ends.
func newClients(t *testing.T, base string, n int, timeout time.Duration) []*client {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	clients := make([]*client, n)
	for i := range clients {
		jar, err := cookiejar.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{MaxIdleConnsPerHost: 2}
		clients[i] = &client{
			id:     i,
			base:   u,
			marker: fmt.Sprintf("client-%d-%d", i, time.Now().UnixNano()),
			jar:    jar,
			tr:     tr,
			hc:     &http.Client{Jar: jar, Transport: tr, Timeout: timeout},
		}
		t.Cleanup(tr.CloseIdleConnections)
	}
	return clients
}

// do sends one request and returns how it went.
func (c *client) do(method, path string) result {
	r := result{start: time.Now()}
	req, err := http.NewRequest(method, c.base.String()+path, nil)
	if err != nil {
		r.err = err
		r.end = time.Now()
		return r
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		r.err = err
		r.end = time.Now()
		return r
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	r.end = time.Now()
	if err != nil {
		r.err = err
		return r
	}
	r.status, r.body = resp.StatusCode, string(body)
	return r
}

// token returns the session token the client holds, "" for none.
func (c *client) token() string {
	for _, ck := range c.jar.Cookies(c.base) {
		if ck.Name == "session" {
			return ck.Value
		}
	}
	return ""
}

// writeMarker stores the client's marker in its session; it must work.
func (c *client) writeMarker(t *testing.T) {
	t.Helper()
	r := c.do("POST", "/marker?v="+url.QueryEscape(c.marker))
	if r.outcome() != succeeded || r.marker() != c.marker {
		t.Fatalf("client %d: writing the marker: status %d, body %q, err %v", c.id, r.status, r.body, r.err)
	}
	if c.token() == "" {
		t.Fatalf("client %d: no session cookie after writing the marker", c.id)
	}
}

// run sends reads, Sets and Incrs in turn, a pause apart, until stop is
// closed or it has sent max requests.
func (c *client) run(stop <-chan struct{}, max int, pause time.Duration) {
	wait := time.NewTimer(pause)
	defer wait.Stop()
	for i := range max {
		select {
		case <-stop:
			return
		default:
		}
		var r result
		switch i % 3 {
		case 0:
			r = c.do("GET", "/read")
		case 1:
			r = c.do("POST", "/set?v="+strconv.Itoa(i))
		default:
			r = c.do("POST", "/incr")
		}
		c.results = append(c.results, r)
		wait.Reset(pause)
		select {
		case <-stop:
			return
		case <-wait.C:
		}
	}
}
