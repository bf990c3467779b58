package storetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

// LargeEnv is the environment variable that adds a million sessions to
// the sizes of BenchGrowth. Unset, the largest size is 100,000, so that a
// plain go test -bench run stays short.
const LargeEnv = "HTTPSESSION_BENCH_LARGE"

// GrowthSizes returns the numbers of stored sessions BenchGrowth measures
// at: 1,000 and 100,000, and 1,000,000 when LargeEnv is set to 1.
func GrowthSizes() []int {
	sizes := []int{1_000, 100_000}
	if os.Getenv(LargeEnv) == "1" {
		sizes = append(sizes, 1_000_000)
	}
	return sizes
}

// GrowthWorking is the number of sessions the requests of BenchGrowth go
// to, at random, whatever the store holds.
const GrowthWorking = 1_000

// GrowthOptions tune BenchGrowth for a store.
type GrowthOptions struct {
	// Fill stores the background records, n of them, faster than Put can
	// (boltstore writes them in a few large transactions). By default
	// they are Put from 8 goroutines.
	Fill func(b *testing.B, s httpsession.Store, n int, rec func(i int) (string, httpsession.Record))
	// Extra runs beside W2 and W3 at each size, on the same filled store:
	// a store's bare-engine floor, for example. keys are the store keys
	// of the 1,000 sessions that W2 and W3 use.
	Extra map[string]func(b *testing.B, s httpsession.Store, keys []string)
}

// BenchGrowth measures how request cost grows with the number of
// sessions a store holds. At each size of GrowthSizes it fills a fresh
// store with that many sessions (1,000 made through the Manager, the rest
// stored directly, 200 bytes of data each, expiring in a day) and runs,
// through a Manager with default settings:
//
//	W2  a read-only request: one session value read
//	W3  an increment: Session.Incr, one Get and one compare-and-set Put
//
// on one of the 1,000 sessions, chosen at random. The ratio of a size's
// ns/op to that at 1,000 sessions is the growth. Each also reports
// cpu-ns/op, the process's CPU time per request (every thread, the
// garbage collector's included): on a busy machine wall time counts the
// time other processes ran, CPU time does not.
//
// The pieces are exported for drivers that fill stores their own way or
// interleave sizes (the bench module's make bench-growth): FillGrowth,
// NewGrowthApp and GrowthApp.BenchWork.
func BenchGrowth(b *testing.B, newStore func(b *testing.B) httpsession.Store, opts GrowthOptions) {
	for _, n := range GrowthSizes() {
		b.Run("sessions="+strconv.Itoa(n), func(b *testing.B) {
			s := newStore(b)
			FillGrowth(b, s, n-GrowthWorking, time.Now().Add(24*time.Hour), opts.Fill)
			app := NewGrowthApp(b, httpsession.Config{Store: s}, uint64(n))
			runtime.GC()
			for _, work := range []string{"W2", "W3"} {
				b.Run(work, func(b *testing.B) { app.BenchWork(b, work) })
			}
			for name, fn := range opts.Extra {
				b.Run(name, func(b *testing.B) { fn(b, s, app.Keys()) })
			}
		})
	}
}

// GrowthRecord returns the background records of the growth benchmarks:
// record i has a key that no token hashes to (64 hex characters, spread
// over the key space), 200 bytes of data that no codec reads, and expires
// at exp.
func GrowthRecord(exp time.Time) func(i int) (string, httpsession.Record) {
	data := make([]byte, 200)
	return func(i int) (string, httpsession.Record) {
		// A multiplicative hash spreads the keys over the key space, as
		// SHA-256 does, instead of filling it in order.
		h := uint64(i+1) * 0x9E3779B97F4A7C15
		return fmt.Sprintf("%016x%016x%032x", h, ^h, i), httpsession.Record{Data: data, Expires: exp}
	}
}

// FillGrowth stores n background records of GrowthRecord(exp) in s: with
// fill when it is not nil, else with Put from 8 goroutines.
func FillGrowth(b *testing.B, s httpsession.Store, n int, exp time.Time, fill func(*testing.B, httpsession.Store, int, func(int) (string, httpsession.Record))) {
	b.Helper()
	rec := GrowthRecord(exp)
	if n <= 0 {
		return
	}
	if fill != nil {
		fill(b, s, n, rec)
		return
	}
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				k, r := rec(i)
				if _, err := s.Put(context.Background(), k, r); err != nil {
					errs <- fmt.Errorf("filling record %d of %d: %w", i, n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// A GrowthApp is the handler that the growth workloads run through and
// the GrowthWorking sessions it made. Its methods other than Keys are not
// safe for concurrent use.
type GrowthApp struct {
	h       http.Handler
	cookies []*http.Cookie
	keys    []string
	rng     *rand.Rand
}

// NewGrowthApp makes a Manager with cfg and GrowthWorking sessions through
// it, each with one value, and returns the handler of the workloads:
//
//	W2  GET /read, which reads the value
//	W3  GET /incr, which increments it (Session.Incr)
//
// The Manager's janitor is off unless cfg.CleanupInterval is set (the
// benchmarks that measure a sweep run the janitor's passes themselves),
// and it logs nothing unless cfg.Logger is set. seed seeds the random
// choice of session per request. The Manager is closed when b ends.
func NewGrowthApp(b *testing.B, cfg httpsession.Config, seed uint64) *GrowthApp {
	b.Helper()
	if cfg.CleanupInterval == 0 {
		cfg.CleanupInterval = -1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := httpsession.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		n, _ := httpsession.Get[int64](httpsession.SessionFrom(r.Context()), "n")
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	mux.HandleFunc("/incr", func(w http.ResponseWriter, r *http.Request) {
		n := httpsession.SessionFrom(r.Context()).Incr("n", 1)
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	a := &GrowthApp{h: m.Handler(mux), rng: rand.New(rand.NewPCG(1, seed))}
	for i := range GrowthWorking {
		w := httptest.NewRecorder()
		a.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/incr", nil))
		if w.Code != http.StatusOK || len(w.Result().Cookies()) != 1 {
			b.Fatalf("creating session %d: %d, cookies %v", i, w.Code, w.Result().Cookies())
		}
		c := w.Result().Cookies()[0]
		a.cookies = append(a.cookies, c)
		a.keys = append(a.keys, httpsession.StoreKey(c.Value))
	}
	return a
}

// Keys returns the store keys of the working sessions.
func (a *GrowthApp) Keys() []string { return a.keys }

// Serve serves one request of work, "W2" or "W3", on a working session
// chosen at random, and returns an error unless it answered 200.
func (a *GrowthApp) Serve(work string) error {
	path := "/read"
	if work == "W3" {
		path = "/incr"
	}
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.AddCookie(a.cookies[a.rng.IntN(len(a.cookies))])
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		return fmt.Errorf("%s %s: %d %s", work, path, w.Code, w.Body)
	}
	return nil
}

// BenchWork runs work, "W2" or "W3", b.N times, reporting allocations and
// cpu-ns/op, the process's CPU time per request.
func (a *GrowthApp) BenchWork(b *testing.B, work string) {
	b.ReportAllocs()
	cpu0, ok := ProcessCPU()
	for b.Loop() {
		if err := a.Serve(work); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, _ := ProcessCPU(); ok {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}
