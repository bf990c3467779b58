package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/redisstore"
)

// The shape of a failover run: clients increment their session's counter
// while the Redis primary holding sessions is killed, until a replica has
// been promoted and some seconds more have passed.
const (
	failoverClients   = 8
	failoverPause     = 20 * time.Millisecond // between two requests of a client
	failoverWarmup    = 2 * time.Second       // load before the kill
	promotionBudget   = 60 * time.Second      // for the replica to be promoted; Redis needs a few seconds
	afterPromotion    = 8 * time.Second       // load after the promotion was seen
	failoverMaxReqs   = 5000                  // per client; the run stays far below
	failoverClientTTL = 15 * time.Second      // the HTTP client's timeout: a request that hangs fails
	// recoveryBound is how long after the promotion a request may still
	// fail: generous, for a loaded 2-core machine. The goal is 3 s; the
	// measured time is logged.
	recoveryBound = 6 * time.Second
)

// counterApp increments a counter in the session and answers its new
// value; GET /count answers it unchanged.
func counterApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /incr", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d\n", httpsession.SessionFrom(r.Context()).Incr("n", 1))
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		n, _ := httpsession.Get[int64](httpsession.SessionFrom(r.Context()), "n")
		fmt.Fprintf(w, "%d\n", n)
	})
	return mux
}

// unavailableCounter is the ErrorHandler of a failover run: 503 for an
// error that wraps httpsession.ErrUnavailable, 500 for any other, which
// the run then reports: every failure of a failover is unavailability.
type unavailableCounter struct {
	mu    sync.Mutex
	n     int
	other []string // the first messages of errors that are not ErrUnavailable
	seen  []string // the first distinct messages of those that are
}

func (c *unavailableCounter) handle(w http.ResponseWriter, r *http.Request, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !errors.Is(err, httpsession.ErrUnavailable) {
		if len(c.other) < maxErrorSamples {
			c.other = append(c.other, err.Error())
		}
		http.Error(w, "not unavailability", http.StatusInternalServerError)
		return
	}
	c.n++
	if msg := err.Error(); len(c.seen) < maxErrorSamples && !slices.Contains(c.seen, msg) {
		c.seen = append(c.seen, msg)
	}
	http.Error(w, unavailableBody, http.StatusServiceUnavailable)
}

// failover is one kind of Redis set-up to fail over.
type failover struct {
	name     string
	storeURL string
	// kill kills the primary that holds the session under key (a store
	// key, without the prefix) and returns when, and a function that
	// reports whether its replica has taken over.
	kill func(t *testing.T, key string) (killed time.Time, promoted func() bool)
}

// TestRedisFailover kills the Redis primary under a load of session
// increments, once behind Sentinel and once in a Cluster with a replica
// per master, both through store/open's URL for them and under one
// Manager and store that are never restarted. It checks that every
// request answers 2xx or the ErrorHandler's 503 for an error wrapping
// httpsession.ErrUnavailable, that requests succeed again within
// recoveryBound of the promotion, and that no increment answered 2xx is
// lost; it logs the failure window it measured. The two run one after
// the other, so as not to measure each other.
func TestRedisFailover(t *testing.T) {
	t.Run("sentinel", func(t *testing.T) {
		set := testservice.RedisSentinel(t)
		runFailover(t, failover{
			name:     "sentinel",
			storeURL: set.URL() + "/0",
			kill: func(t *testing.T, _ string) (time.Time, func() bool) {
				old, err := set.MasterAddr()
				if err != nil {
					t.Fatal(err)
				}
				var primary *testservice.Server
				for _, s := range set.DataServers() {
					if s.Addr() == old {
						primary = s
					}
				}
				if primary == nil {
					t.Fatalf("the sentinels name %s primary, none of the data servers", old)
				}
				killed := time.Now()
				primary.Kill()
				return killed, func() bool {
					now, err := set.MasterAddr()
					return err == nil && now != old
				}
			},
		})
	})
	t.Run("cluster", func(t *testing.T) {
		cl := testservice.RedisClusterWithReplicas(t, 3)
		if len(cl.Servers()) == 0 {
			t.Skip("an external cluster: its nodes cannot be killed")
		}
		runFailover(t, failover{
			name:     "cluster",
			storeURL: "redis+cluster://" + strings.Join(cl.Addrs(), ","),
			kill: func(t *testing.T, key string) (time.Time, func() bool) {
				return killClusterMaster(t, cl, key)
			},
		})
	})
}

// killClusterMaster kills the master that holds key and returns when, and
// a function that reports whether its replica reports itself master.
func killClusterMaster(t *testing.T, cl *testservice.Cluster, key string) (time.Time, func() bool) {
	t.Helper()
	ctx := t.Context()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	defer cc.Close()
	m, err := cc.MasterForKey(ctx, redisstore.DefaultPrefix+key)
	if err != nil {
		t.Fatal(err)
	}
	master := m.Options().Addr
	_, port, _ := strings.Cut(master, ":")
	var victim *testservice.Server
	var replica string
	for _, s := range cl.Servers() {
		if s.Addr() == master {
			victim = s
			continue
		}
		info := nodeInfo(t, s.Addr(), "replication")
		if info["role"] == "slave" && info["master_port"] == port {
			replica = s.Addr()
		}
	}
	if victim == nil || replica == "" {
		t.Fatalf("the master %s of the first session: node %v, replica %q", master, victim != nil, replica)
	}
	killed := time.Now()
	victim.Kill()
	return killed, func() bool {
		c := redis.NewClient(&redis.Options{Addr: replica, DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
		defer c.Close()
		info, err := c.Info(context.Background(), "replication").Result()
		return err == nil && strings.Contains(info, "role:master")
	}
}

// nodeInfo returns a section of INFO of the server at addr as a map.
func nodeInfo(t *testing.T, addr, section string) map[string]string {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	text, err := c.Info(t.Context(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for line := range strings.SplitSeq(text, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			out[k] = v
		}
	}
	return out
}

// failoverTimes is when a failover run killed the primary and saw the
// replica promoted.
type failoverTimes struct {
	killed, promoted time.Time
}

func runFailover(t *testing.T, f failover) {
	// After a failover the client's pool of the dead primary keeps a
	// goroutine that redials it once a second; it sees the pool closed and
	// ends at its next wake-up, up to a second after Close.
	leaks := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t, leaks, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
	})
	errs := &unavailableCounter{}
	m := newManager(t, httpsession.Config{
		Store: openStore(t, f.storeURL),
		// Generous, for a loaded machine: the failures of a failover are
		// refused connections and error replies, which come at once.
		StoreTimeout: 5 * time.Second,
		ErrorHandler: errs.handle,
	})
	hs := serve(t, m.Handler(counterApp()))
	clients := newClients(t, hs.URL, failoverClients, failoverClientTTL)
	for _, cl := range clients {
		if r := cl.do("POST", "/incr"); r.outcome() != succeeded || strings.TrimSpace(r.body) != "1" {
			t.Fatalf("client %d: first increment: status %d, body %q, err %v", cl.id, r.status, r.body, r.err)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(func() { cl.incrLoop(stop, failoverMaxReqs, failoverPause) })
	}
	var tm failoverTimes
	func() {
		// Kill and the polls end the test on failure: stop the load then too.
		defer func() {
			close(stop)
			wg.Wait()
		}()
		time.Sleep(failoverWarmup)
		var promoted func() bool
		tm.killed, promoted = f.kill(t, httpsession.StoreKey(clients[0].token()))
		for !promoted() {
			if time.Since(tm.killed) > promotionBudget {
				t.Errorf("no replica promoted %v after the primary was killed", promotionBudget)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		tm.promoted = time.Now()
		time.Sleep(afterPromotion)
	}()
	if t.Failed() {
		return
	}
	checkFailover(t, f.name, clients, tm, errs)
}

// incrLoop sends increments a pause apart until stop is closed or it has
// sent max requests.
func (c *client) incrLoop(stop <-chan struct{}, max int, pause time.Duration) {
	wait := time.NewTimer(pause)
	defer wait.Stop()
	for range max {
		select {
		case <-stop:
			return
		default:
		}
		c.results = append(c.results, c.do("POST", "/incr"))
		wait.Reset(pause)
		select {
		case <-stop:
			return
		case <-wait.C:
		}
	}
}

// checkFailover sorts the results of a failover run, logs what it
// measured and checks it.
func checkFailover(t *testing.T, name string, clients []*client, tm failoverTimes, errs *unavailableCounter) {
	t.Helper()
	var (
		sent, ok, unavail, bad           int
		firstFail, lastFail              time.Time
		lateFailures, lost, hit, stalled int
		failures                         []string
	)
	for _, cl := range clients {
		var acked int64 = 1 // the first increment, before the load
		failed := false
		for _, r := range cl.results {
			sent++
			switch r.outcome() {
			case succeeded:
				ok++
				n, err := strconv.ParseInt(strings.TrimSpace(r.body), 10, 64)
				if err != nil {
					t.Errorf("client %d: a 2xx answered %q", cl.id, r.body)
					continue
				}
				acked = max(acked, n)
				continue
			case unavailable:
				unavail++
			default:
				bad++
				if len(failures) < maxErrorSamples {
					failures = append(failures, fmt.Sprintf("client %d at %v after the kill: status %d, err %v, body %q",
						cl.id, r.start.Sub(tm.killed).Round(time.Millisecond), r.status, r.err, strings.TrimSpace(r.body)))
				}
			}
			failed = true
			if firstFail.IsZero() || r.start.Before(firstFail) {
				firstFail = r.start
			}
			if r.end.After(lastFail) {
				lastFail = r.end
			}
			if r.start.After(tm.promoted.Add(recoveryBound)) {
				lateFailures++
			}
		}
		if failed {
			hit++
		}
		// The counter now: every increment that answered 2xx must be in it.
		final := cl.count(t)
		if final < acked {
			lost += int(acked - final)
			t.Errorf("client %d: counter %d after the run, but an increment answered %d: %d lost", cl.id, final, acked, acked-final)
		}
		if tail := cl.results[len(cl.results)-1]; tail.outcome() != succeeded {
			stalled++
		}
	}

	errs.mu.Lock()
	handled, other, seen := errs.n, slices.Clone(errs.other), slices.Clone(errs.seen)
	errs.mu.Unlock()
	t.Logf("%s: primary killed after %v of load; replica promoted %v after the kill; %v more load",
		name, failoverWarmup, tm.promoted.Sub(tm.killed).Round(time.Millisecond), afterPromotion)
	t.Logf("%s: %d requests from %d clients: %d 2xx, %d 503, %d other; %d clients saw failures; %d increments lost",
		name, sent, len(clients), ok, unavail, bad, hit, lost)
	if !lastFail.IsZero() {
		t.Logf("%s: failures from %v to %v after the kill (%v after the promotion was seen)",
			name, firstFail.Sub(tm.killed).Round(time.Millisecond), lastFail.Sub(tm.killed).Round(time.Millisecond),
			lastFail.Sub(tm.promoted).Round(time.Millisecond))
	}
	for _, s := range seen {
		t.Logf("%s: ErrorHandler saw: %s", name, s)
	}

	for _, s := range other {
		t.Errorf("%s: ErrorHandler got an error that is not ErrUnavailable: %s", name, s)
	}
	for _, f := range failures {
		t.Errorf("%s: neither 2xx nor the ErrorHandler's 503: %s", name, f)
	}
	if handled < unavail {
		t.Errorf("clients saw %d 503s but the ErrorHandler answered %d", unavail, handled)
	}
	if hit == 0 {
		t.Errorf("no request failed: the kill was not felt")
	}
	if lateFailures > 0 {
		t.Errorf("%d requests started more than %v after the promotion failed; the last failure ended %v after it",
			lateFailures, recoveryBound, lastFail.Sub(tm.promoted).Round(time.Millisecond))
	}
	if stalled > 0 {
		t.Errorf("%d clients' last request failed", stalled)
	}
}

// count reads the client's counter, trying for a while: it must work
// after a failover.
func (c *client) count(t *testing.T) int64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := c.do("GET", "/count")
		if r.outcome() == succeeded {
			n, err := strconv.ParseInt(strings.TrimSpace(r.body), 10, 64)
			if err != nil {
				t.Fatalf("client %d: GET /count answered %q", c.id, r.body)
			}
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("client %d: GET /count after the run: status %d, err %v, body %q", c.id, r.status, r.err, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
