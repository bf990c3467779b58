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

// growthWorking is the number of sessions the requests of BenchGrowth go
// to, at random, whatever the store holds.
const growthWorking = 1_000

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
func BenchGrowth(b *testing.B, newStore func(b *testing.B) httpsession.Store, opts GrowthOptions) {
	for _, n := range GrowthSizes() {
		b.Run("sessions="+strconv.Itoa(n), func(b *testing.B) {
			s := newStore(b)
			fillBackground(b, s, n-growthWorking, opts.Fill)
			h, cookies := growthApp(b, s)
			keys := make([]string, len(cookies))
			for i, c := range cookies {
				keys[i] = httpsession.StoreKey(c.Value)
			}
			runtime.GC()
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			request := func(b *testing.B, path string) {
				r := httptest.NewRequest(http.MethodGet, path, nil)
				r.AddCookie(cookies[rng.IntN(len(cookies))])
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", path, w.Code, w.Body)
				}
			}
			for name, path := range map[string]string{"W2": "/read", "W3": "/incr"} {
				b.Run(name, func(b *testing.B) {
					b.ReportAllocs()
					cpu0, ok := ProcessCPU()
					for b.Loop() {
						request(b, path)
					}
					if cpu1, _ := ProcessCPU(); ok {
						b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
					}
				})
			}
			for name, fn := range opts.Extra {
				b.Run(name, func(b *testing.B) { fn(b, s, keys) })
			}
		})
	}
}

// growthRecord is background record i: a key that no token hashes to and
// 200 bytes that no codec reads.
func growthRecord(exp time.Time) func(i int) (string, httpsession.Record) {
	data := make([]byte, 200)
	return func(i int) (string, httpsession.Record) {
		// A multiplicative hash spreads the keys over the key space, as
		// SHA-256 does, instead of filling it in order.
		h := uint64(i+1) * 0x9E3779B97F4A7C15
		return fmt.Sprintf("%016x%016x%032x", h, ^h, i), httpsession.Record{Data: data, Expires: exp}
	}
}

func fillBackground(b *testing.B, s httpsession.Store, n int, fill func(*testing.B, httpsession.Store, int, func(int) (string, httpsession.Record))) {
	b.Helper()
	rec := growthRecord(time.Now().Add(24 * time.Hour))
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

// growthApp returns the benchmark's handler and the cookies of its
// 1,000 working sessions.
func growthApp(b *testing.B, s httpsession.Store) (http.Handler, []*http.Cookie) {
	b.Helper()
	m, err := httpsession.New(httpsession.Config{Store: s, CleanupInterval: -1, Logger: slog.New(slog.DiscardHandler)})
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
	h := m.Handler(mux)
	cookies := make([]*http.Cookie, growthWorking)
	for i := range cookies {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/incr", nil))
		if w.Code != http.StatusOK || len(w.Result().Cookies()) != 1 {
			b.Fatalf("creating session %d: %d, cookies %v", i, w.Code, w.Result().Cookies())
		}
		cookies[i] = w.Result().Cookies()[0]
	}
	return h, cookies
}
