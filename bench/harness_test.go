package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// adapters are the libraries and stores every workload runs on, in the
// order of the report. Each is defined in its own adapter_*_test.go file.
var adapters = []adapter{
	baseline,
	httpsessionMemstore,
	httpsessionBoltstore,
	httpsessionFilestore,
	httpsessionRedisstore,
	httpsessionMemcachestore,
	httpsessionSQLstore,
	scsMemstore,
	scsRedisstore,
	gorillaCookieStore,
	gorillaFilesystemStore,
}

// An adapter is one session library on one store.
type adapter struct {
	name string
	// open configures the library for one run of workload w, registering
	// its cleanup with b; it calls b.Skip when the library cannot do w.
	open func(b *testing.B, w workload) lib
	// clientState is set when the session lives in the cookie: the harness
	// sends the same cookie again and again, so the cost is right but a
	// counter cannot be checked.
	clientState bool
}

// A lib is a session library, configured, whose handlers do the steps.
type lib interface {
	handler(s step) http.Handler
}

// A counter is a lib whose store calls are counted (by a wrapping store).
type counter interface {
	counts() storeCounts
}

type storeCounts struct{ reads, writes, touches int64 }

// step is one piece of session work a handler does.
type step int

const (
	stepNew      step = iota // W1: a new visitor: set one 16-byte string
	stepSeedUser             // set "user" to "ann": the session W2 and W6 read
	stepRead                 // W2, W6: read "user"
	stepIncr                 // W3, W5: increment the int under "n"
	stepSeedFat              // set the 50 keys of the fat session
	stepFat                  // W4: read every key, change one
	stepReadN                // write the int under "n" to the response (checks only)
)

// The session data of the workloads.
const (
	greeting = "hello, visitor!!" // 16 bytes
	fatKeys  = 50
)

var (
	// fatValues are the two values key07 of the fat session alternates
	// between, so that every W4 request really changes it. 50 keys of
	// about 80 bytes each make about 4 KB.
	fatValues = [2]string{strings.Repeat("v", 70), strings.Repeat("w", 70)}
	fatFlip   atomic.Uint64
)

func fatKey(i int) string { return fmt.Sprintf("key%02d", i) }

func nextFatValue() string { return fatValues[fatFlip.Add(1)%2] }

// failure keeps the first wrong answer a handler saw; handlers run in the
// timed loop, some on other goroutines, so they report here and the
// benchmark fails when its loop is done.
var failure atomic.Pointer[string]

func fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	failure.CompareAndSwap(nil, &msg)
}

func checkFailure(b *testing.B) {
	b.Helper()
	if p := failure.Swap(nil); p != nil {
		b.Fatal(*p)
	}
}

// A workload is one kind of request, run the same way on every adapter.
type workload struct {
	name        string
	idleTimeout time.Duration // the sliding expiry of W6; 0: none
	run         func(b *testing.B, a adapter, w workload)
}

// idleTimeout is W6's: 30 minutes, in OWASP's range for low-risk
// applications. httpsession's TouchInterval defaults to a tenth of it.
const idleTimeout = 30 * time.Minute

var workloads = []workload{
	{name: "W1", run: func(b *testing.B, a adapter, w workload) { runSerial(b, a, w, -1, stepNew) }},
	{name: "W2", run: func(b *testing.B, a adapter, w workload) { runSerial(b, a, w, stepSeedUser, stepRead) }},
	{name: "W3", run: func(b *testing.B, a adapter, w workload) { runSerial(b, a, w, stepIncr, stepIncr) }},
	{name: "W4", run: func(b *testing.B, a adapter, w workload) { runSerial(b, a, w, stepSeedFat, stepFat) }},
	{name: "W5", run: runParallel},
	{name: "W6", idleTimeout: idleTimeout, run: func(b *testing.B, a adapter, w workload) { runSerial(b, a, w, stepSeedUser, stepRead) }},
}

// BenchmarkSession runs every workload on every adapter. Names are
// Session/work=W?/adapter=NAME, so benchstat can group by either.
func BenchmarkSession(b *testing.B) {
	for _, w := range workloads {
		b.Run("work="+w.name, func(b *testing.B) {
			for _, a := range adapters {
				b.Run("adapter="+a.name, func(b *testing.B) {
					w.run(b, a, w)
					checkFailure(b)
				})
			}
		})
	}
}

// runSerial times one request after another through the handler of step,
// on a session made by seed (none when seed is -1). The request is built
// once and reused; after each request it is restored, because
// gorilla/sessions keeps its registry by rewriting *r.
func runSerial(b *testing.B, a adapter, w workload, seed, s step) {
	l := a.open(b, w)
	cookie := ""
	if seed >= 0 {
		cookie = seedSession(b, l.handler(seed))
	}
	h := l.handler(s)
	r := newRequest(cookie)
	proto := *r
	n0 := readN(b, a, l, s, cookie)
	c, _ := l.(counter)
	var before storeCounts
	if c != nil {
		before = c.counts()
	}
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		*r = proto
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if s == stepNew && rec.Header()["Set-Cookie"] == nil {
			b.Fatal("a new visitor's session set no cookie")
		}
	}
	reportCounts(b, c, before)
	if n1 := readN(b, a, l, s, cookie); s == stepIncr && !a.clientState && n1-n0 != int64(b.N) {
		b.Fatalf("the counter went from %d to %d in %d requests", n0, n1, b.N)
	}
}

// Parallelism of W5: goroutines per GOMAXPROCS, and the sessions each
// goroutine takes turns on. No two goroutines share a session, so the
// numbers are those of many clients, not of conflicts on one session.
const (
	parallelism       = 4
	sessionsPerWorker = 16
)

// runParallel is W5: W3 from parallelism*GOMAXPROCS goroutines at once,
// each on sessions of its own.
func runParallel(b *testing.B, a adapter, w workload) {
	l := a.open(b, w)
	seed := l.handler(stepIncr)
	workers := parallelism * runtime.GOMAXPROCS(0)
	cookies := make([]string, workers*sessionsPerWorker)
	var n0 int64
	for i := range cookies {
		cookies[i] = seedSession(b, seed)
		n0 += readN(b, a, l, stepIncr, cookies[i])
	}
	h := l.handler(stepIncr)
	c, _ := l.(counter)
	var before storeCounts
	if c != nil {
		before = c.counts()
	}
	var next atomic.Int64
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		first := int(next.Add(1)-1) % workers * sessionsPerWorker
		reqs := make([]*http.Request, sessionsPerWorker)
		protos := make([]http.Request, sessionsPerWorker)
		for i := range reqs {
			reqs[i] = newRequest(cookies[first+i])
			protos[i] = *reqs[i]
		}
		for i := 0; pb.Next(); i = (i + 1) % sessionsPerWorker {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, reqs[i])
			*reqs[i] = protos[i]
			if rec.Code != http.StatusOK {
				fail("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
	b.StopTimer()
	reportCounts(b, c, before)
	var n1 int64
	for _, cookie := range cookies {
		n1 += readN(b, a, l, stepIncr, cookie)
	}
	if a.clientState {
		return
	}
	if n1-n0 != int64(b.N) {
		b.Fatalf("the counters went from %d to %d in %d requests", n0, n1, b.N)
	}
}

// readN returns the counter of the session for the checks of W3 and W5,
// and 0 for other steps or when the session lives in the cookie.
func readN(b *testing.B, a adapter, l lib, s step, cookie string) int64 {
	b.Helper()
	if s != stepIncr || a.clientState {
		return 0
	}
	rec := httptest.NewRecorder()
	l.handler(stepReadN).ServeHTTP(rec, newRequest(cookie))
	n, err := strconv.ParseInt(strings.TrimSpace(rec.Body.String()), 10, 64)
	if rec.Code != http.StatusOK || err != nil {
		b.Fatalf("reading the counter: status %d, %q", rec.Code, rec.Body)
	}
	return n
}

func reportCounts(b *testing.B, c counter, before storeCounts) {
	if c == nil {
		return
	}
	after := c.counts()
	n := float64(b.N)
	b.ReportMetric(float64(after.reads-before.reads)/n, "reads/op")
	b.ReportMetric(float64(after.writes-before.writes)/n, "writes/op")
	b.ReportMetric(float64(after.touches-before.touches)/n, "touches/op")
}

// seedSession runs h once as a new visitor and returns the Cookie header
// that names the session it made.
func seedSession(b *testing.B, h http.Handler) string {
	b.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, newRequest(""))
	if rec.Code != http.StatusOK {
		b.Fatalf("seeding a session: status %d: %s", rec.Code, rec.Body)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == cookieName {
			return c.Name + "=" + c.Value
		}
	}
	b.Fatalf("seeding a session set no %q cookie", cookieName)
	return ""
}

// cookieName is the session cookie of every library here (all default to
// it, or are told to use it).
const cookieName = "session"

func newRequest(cookie string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		r.Header.Set("Cookie", cookie)
	}
	return r
}

// server returns the address or URL in the environment variable env,
// which servers.sh sets, or skips the benchmark when it is unset (fails
// with BENCH_REQUIRE_SERVERS=1).
func server(b testing.TB, env, what string) string {
	b.Helper()
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
			b.Fatalf("%s is not set: no %s server (run through bench/servers.sh)", env, what)
		}
		b.Skipf("%s is not set: no %s server (run through bench/servers.sh)", env, what)
	}
	return v
}
