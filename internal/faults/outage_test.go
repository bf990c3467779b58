package faults

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/metrics"
)

// The shape of an outage run. A request makes at most two store phases
// (load, then save), each bounded by StoreTimeout, so its latency budget
// is two of them plus a margin for a slow machine; the client's timeout is
// longer still, so that a request that hangs shows as a latency over the
// budget and, past the client timeout, as a timeout.
const (
	storeTimeout   = time.Second
	latencyBudget  = 2*storeTimeout + 3*time.Second // a generous margin: CI runs packages side by side on 2 cores
	clientTimeout  = latencyBudget + 5*time.Second
	numClients     = 8
	warmup         = 2 * time.Second         // load before the kill
	outage         = 1500 * time.Millisecond // from the kill to the restart
	afterRestart   = 3 * time.Second         // load after Restart returns
	recoveryBudget = 2 * time.Second         // every client succeeds again within this of Restart
	pause          = 5 * time.Millisecond    // between two requests of a client
	maxRequests    = 2000                    // per client, a bound the run stays far below
)

// outageCase is a store on a server that the test can kill.
type outageCase struct {
	name string
	// persistent servers keep sessions across a kill; memcached does not.
	persistent bool
	start      func(t *testing.T) (*testservice.Server, string)
}

func outageCases() []outageCase {
	return []outageCase{
		{"redis", true, func(t *testing.T) (*testservice.Server, string) {
			s := testservice.Redis(t, testservice.AppendOnly())
			return s, s.DSN()
		}},
		{"memcached", false, func(t *testing.T) (*testservice.Server, string) {
			s := testservice.Memcached(t)
			return s, s.DSN()
		}},
		{"postgres", true, func(t *testing.T) (*testservice.Server, string) {
			s := testservice.Postgres(t)
			return s, s.DSN()
		}},
		{"mariadb", true, func(t *testing.T) (*testservice.Server, string) {
			s := testservice.MariaDB(t)
			return s, "mysql://" + s.DSN()
		}},
	}
}

// TestStoreOutage kills each store's server under load and restarts it,
// under the same Manager and store. The subtests run one after another:
// on a small machine parallel runs would measure each other, and each
// checks for leaked goroutines, which needs the others' to be gone.
func TestStoreOutage(t *testing.T) {
	for _, c := range outageCases() {
		t.Run(c.name, func(t *testing.T) { runOutage(t, c) })
	}
}

func runOutage(t *testing.T, c outageCase) {
	verifyNoLeaks(t) // after the clients, the HTTP server, the Manager, the store and its server are closed

	srv, storeURL := c.start(t)
	if srv.External() {
		t.Skipf("%s is an external server: it cannot be killed", c.name)
	}
	errs := &errorCounter{}
	driverLines := driverLog.lines()
	m := newManager(t, httpsession.Config{
		Store:        openStore(t, storeURL),
		StoreTimeout: storeTimeout,
		ErrorHandler: errs.handle,
	})
	hs := serve(t, m.Handler(app()))
	clients := newClients(t, hs.URL, numClients, clientTimeout)
	tokens := make([]string, len(clients))
	for i, cl := range clients {
		cl.writeMarker(t)
		tokens[i] = cl.token()
	}

	tl := driveOutage(srv, clients, errs)
	sum := summarize(clients, c.persistent, tl)
	ec := errs.counts()
	logOutage(t, c.name, tl, sum, ec, m.Stats(), driverLog.lines()-driverLines)
	checkOutage(t, sum, ec, m.Stats())
	if n := hs.errorLog.lines(); n > 0 {
		t.Errorf("the HTTP server logged %d entries (a handler panic, a superfluous WriteHeader ...), the latest: %s", n, hs.errorLog.last())
	}
	checkSessions(t, c, clients, tokens, sum)
}

// timeline is when an outage run killed and restarted the server.
type timeline struct {
	killed, restarting, restarted time.Time
	killTook                      time.Duration
}

// driveOutage runs the clients' load, kills the server mid-run, restarts
// it and lets the load go on; it returns once the clients have stopped.
// The ErrorHandler counts from the moment Restart returns as after.
func driveOutage(srv *testservice.Server, clients []*client, errs *errorCounter) timeline {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(func() { cl.run(stop, maxRequests, pause) })
	}
	// Kill and Restart end the test on failure: stop the load then too.
	defer func() {
		close(stop)
		wg.Wait()
	}()

	var tl timeline
	time.Sleep(warmup)
	tl.killed = time.Now()
	srv.Kill()
	tl.killTook = time.Since(tl.killed)
	time.Sleep(outage)
	tl.restarting = time.Now()
	srv.Restart()
	tl.restarted = time.Now()
	errs.mark()
	time.Sleep(afterRestart)
	return tl
}

// logOutage logs what an outage run measured.
func logOutage(t *testing.T, name string, tl timeline, sum summary, ec errorCounts, st metrics.Stats, driverLines int) {
	t.Helper()
	t.Logf("%s: killed (SIGKILL, %v) after %v of load, restarted after %v down (Restart took %v), then %v more load",
		name, tl.killTook.Round(time.Millisecond), warmup, tl.restarting.Sub(tl.killed).Round(time.Millisecond),
		tl.restarted.Sub(tl.restarting).Round(time.Millisecond), afterRestart)
	t.Logf("%s: %d requests from %d clients: %d 2xx, %d 503 (%d of %d ErrorHandler calls cut by StoreTimeout), %d other status, %d dropped connections, %d client timeouts",
		name, sum.sent, numClients, sum.counts[succeeded], sum.counts[unavailable], ec.timeouts, ec.before+ec.after,
		sum.counts[badStatus], sum.counts[dropped], sum.counts[timedOut])
	t.Logf("%s: max latency %v (503s: median %v, max %v; budget %v, client timeout %v)",
		name, sum.maxLatency.Round(time.Millisecond), sum.median503.Round(time.Millisecond), sum.max503.Round(time.Millisecond),
		latencyBudget, clientTimeout)
	failedAfter := "none failed after Restart returned"
	if ec.after > 0 {
		failedAfter = fmt.Sprintf("%d failed after Restart returned, the last ending %v after it", ec.after, sum.lastFailure.Round(time.Millisecond))
	}
	t.Logf("%s: recovery: first success %v after Restart returned, every client by %v; %s",
		name, sum.firstRecovery.Round(time.Millisecond), sum.allRecovered.Round(time.Millisecond), failedAfter)
	t.Logf("%s: Manager stats %+v; the drivers logged %d lines", name, st, driverLines)
	for _, s := range ec.samplesBefore {
		t.Logf("%s: ErrorHandler saw, before Restart returned: %s", name, s)
	}
	for _, s := range ec.samplesAfter {
		t.Logf("%s: ErrorHandler saw, after Restart returned: %s", name, s)
	}
	for _, f := range sum.failures {
		t.Logf("%s: failure: %s", name, f)
	}
	if driverLines > 0 {
		t.Logf("%s: the drivers' latest log line: %s", name, driverLog.last())
	}
}

// checkOutage checks the counts of an outage run.
func checkOutage(t *testing.T, sum summary, ec errorCounts, st metrics.Stats) {
	t.Helper()
	handled := ec.before + ec.after
	if n := sum.counts[badStatus] + sum.counts[dropped] + sum.counts[timedOut]; n > 0 {
		t.Errorf("%d of %d requests were neither 2xx nor the ErrorHandler's 503", n, sum.sent)
	}
	if sum.counts[unavailable] == 0 {
		t.Errorf("no request failed while the server was down: the outage was not felt")
	}
	if handled < sum.counts[unavailable] {
		t.Errorf("clients saw %d 503s but the ErrorHandler answered %d", sum.counts[unavailable], handled)
	}
	if st.StoreErrors != uint64(handled) {
		t.Errorf("Stats.StoreErrors = %d, but the ErrorHandler answered %d store failures", st.StoreErrors, handled)
	}
	if sum.maxLatency >= latencyBudget {
		t.Errorf("max latency %v, over the budget of %v (two StoreTimeouts and a margin)", sum.maxLatency, latencyBudget)
	}
	// Requests succeed again within the budget, and every request started
	// after it succeeds. When the last client got through is only logged:
	// a client whose request was still failing when Restart returned
	// starts its next one that much later. On Redis that is up to a
	// StoreTimeout per store call: go-redis (v9.23) retries a failed dial
	// 5 times 100 ms apart and a failed command 3 times, about 1.8 s in
	// all, and once PoolSize dials have failed its pool answers every call
	// with the last dial error until a probe, once a second, gets through.
	if sum.firstRecovery < 0 || sum.firstRecovery > recoveryBudget {
		t.Errorf("the first success came %v after Restart returned, want one within %v", sum.firstRecovery, recoveryBudget)
	}
	if sum.unrecovered > 0 {
		t.Errorf("%d of %d clients never succeeded in the %v after Restart", sum.unrecovered, numClients, afterRestart)
	}
	if sum.lateFailures > 0 {
		t.Errorf("%d requests started more than %v after Restart still failed", sum.lateFailures, recoveryBudget)
	}
	if sum.foreign > 0 {
		t.Errorf("%d responses carried another client's marker", sum.foreign)
	}
	if sum.missing > 0 {
		t.Errorf("%d 2xx responses lacked the client's marker where the session must have kept it", sum.missing)
	}
}

// checkSessions reads each client's session once more after the run:
// on a persistent server the marker written before the outage must be
// there under the same token; on memcached it is gone and the client
// simply has a fresh session.
func checkSessions(t *testing.T, c outageCase, clients []*client, tokens []string, sum summary) {
	t.Helper()
	lost, fresh := 0, 0
	for i, cl := range clients {
		r := cl.do("GET", "/read")
		if r.outcome() != succeeded {
			t.Errorf("client %d: the read after the run: status %d, err %v", i, r.status, r.err)
			continue
		}
		switch got := r.marker(); {
		case got == cl.marker:
		case got == "":
			lost++
			if !c.persistent && cl.token() != tokens[i] && cl.token() != "" {
				fresh++
			}
		default:
			t.Errorf("client %d: marker %q, want %q or none", i, got, cl.marker)
		}
		if c.persistent && cl.token() != tokens[i] {
			t.Errorf("client %d: the session token changed over the outage", i)
		}
	}
	if c.persistent {
		t.Logf("%s: sessions lost %d of %d (marker missing after the restart); %d 2xx responses during the run lacked the marker",
			c.name, lost, len(clients), sum.missing)
		if lost > 0 {
			t.Errorf("%d of %d sessions lost on a persistent server", lost, len(clients))
		}
		return
	}
	t.Logf("%s: sessions lost %d of %d, as expected of a server that keeps nothing; %d clients carried on with a fresh session under a new token, without an error",
		c.name, lost, len(clients), fresh)
	if lost != len(clients) || fresh != len(clients) {
		t.Errorf("%d sessions lost and %d fresh, want every one of %d lost and replaced by a fresh one", lost, fresh, len(clients))
	}
}

// summary is what summarize measured.
type summary struct {
	sent          int
	counts        [timedOut + 1]int
	maxLatency    time.Duration
	median503     time.Duration
	max503        time.Duration
	firstRecovery time.Duration // the first success of a request started after Restart returned
	allRecovered  time.Duration // by when every client had such a success
	unrecovered   int           // clients without one
	lastFailure   time.Duration // the end of the last failed request started after Restart returned
	lateFailures  int           // failures of requests started after the recovery budget
	missing       int           // 2xx responses without the client's marker where it must be there
	foreign       int           // 2xx responses with another client's marker
	failures      []string      // the first few requests that were neither 2xx nor 503
}

// summarize counts the clients' results. A 2xx response must carry the
// client's marker, except on a server that is not persistent, whose
// sessions may be gone once it was killed.
func summarize(clients []*client, persistent bool, tl timeline) summary {
	killed, restarted := tl.killed, tl.restarted
	var s summary
	s.firstRecovery = -1
	var lat503 []time.Duration
	for _, cl := range clients {
		recovered := time.Duration(-1)
		for _, r := range cl.results {
			s.sent++
			o := r.outcome()
			s.counts[o]++
			s.maxLatency = max(s.maxLatency, r.latency())
			switch o {
			case unavailable:
				lat503 = append(lat503, r.latency())
			case badStatus, dropped, timedOut:
				if len(s.failures) < maxErrorSamples {
					s.failures = append(s.failures, fmt.Sprintf("client %d at %+v: status %d, err %v, body %q",
						cl.id, r.start.Sub(killed).Round(time.Millisecond), r.status, r.err, r.body))
				}
			}
			if o != succeeded {
				if r.start.After(restarted) {
					s.lastFailure = max(s.lastFailure, r.end.Sub(restarted))
				}
				if r.start.After(restarted.Add(recoveryBudget)) {
					s.lateFailures++
				}
				continue
			}
			switch m := r.marker(); {
			case m == cl.marker:
			case m != "":
				s.foreign++
			case persistent || r.end.Before(killed):
				s.missing++
			}
			if recovered < 0 && r.start.After(restarted) {
				recovered = r.end.Sub(restarted)
				if s.firstRecovery < 0 || recovered < s.firstRecovery {
					s.firstRecovery = recovered
				}
			}
		}
		if recovered < 0 {
			s.unrecovered++
		}
		s.allRecovered = max(s.allRecovered, recovered)
	}
	if len(lat503) > 0 {
		slices.Sort(lat503)
		s.median503, s.max503 = lat503[len(lat503)/2], lat503[len(lat503)-1]
	}
	return s
}
