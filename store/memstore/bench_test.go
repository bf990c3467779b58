package memstore_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memstore"
	"github.com/httpsession/httpsession/store/storetest"
)

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) httpsession.Store {
		s := memstore.New(memstore.Options{CleanupInterval: -1})
		b.Cleanup(func() { s.Close() })
		return s
	}, storetest.BenchOptions{})
}

// bigStore returns a store with room for the largest benchmark size.
func bigStore(b *testing.B, now func() time.Time) *memstore.Store {
	s := memstore.New(memstore.Options{MaxEntries: 4_000_000, MaxBytes: 4 << 30, CleanupInterval: -1, Now: now})
	b.Cleanup(func() { s.Close() })
	return s
}

// BenchmarkGrowth: W2 and W3 at 1,000 and 100,000 sessions, and at a
// million with HTTPSESSION_BENCH_LARGE=1.
func BenchmarkGrowth(b *testing.B) {
	storetest.BenchGrowth(b, func(b *testing.B) httpsession.Store { return bigStore(b, nil) }, storetest.GrowthOptions{})
}

// BenchmarkSweepStall measures what a sweep costs the requests that run
// beside it. Each op is one pass of the Manager's janitor
// (DeleteExpired(ctx, 1000) until a call removes fewer) over a store of
// that many sessions, while a reader Gets live records in a loop:
//
//	live     every record is live: the pass removes nothing
//	expired  all but 1,000 records have expired: the pass removes them
//
// max-wait-µs is the longest single Get the reader saw during the passes;
// idle-max-wait-µs the longest outside them, in a 100 ms window before the
// first pass and between passes, which is the machine's own noise (both
// include scheduling delays); max-call-µs the longest DeleteExpired call,
// which bounds how long the store's lock was held at a time, and
// max-call-cpu-µs the CPU time of the costliest call, which is that bound
// without the time the thread waited for a CPU; pass-ms a pass's
// duration.
func BenchmarkSweepStall(b *testing.B) {
	for _, n := range storetest.GrowthSizes() {
		for _, expired := range []bool{false, true} {
			name := fmt.Sprintf("sessions=%d/live", n)
			if expired {
				name = fmt.Sprintf("sessions=%d/expired", n)
			}
			b.Run(name, func(b *testing.B) { benchSweep(b, n, expired) })
		}
	}
}

func benchSweep(b *testing.B, n int, expired bool) {
	var offset atomic.Int64 // the clock runs ahead by this much
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s := bigStore(b, now)
	ctx := context.Background()
	const live = 1000
	data := make([]byte, 200)
	liveKeys := make([]string, live)
	for i := range live {
		liveKeys[i] = fmt.Sprintf("%064x", i)
		if _, err := s.Put(ctx, liveKeys[i], httpsession.Record{Data: data, Expires: now().Add(48 * time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	fill := func(round int) {
		for i := range n - live {
			k := fmt.Sprintf("%016x%048x", uint64(i+1)*0x9E3779B97F4A7C15, round)
			if _, err := s.Put(ctx, k, httpsession.Record{Data: data, Expires: now().Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
	}
	fill(0)
	if expired {
		offset.Add(int64(2 * time.Hour))
	}
	runtime.GC()

	// The reader keeps the longest Get that overlapped a pass in
	// passWait, and any other in idleWait: on a shared machine the
	// scheduler alone can stall a goroutine for milliseconds, and
	// idleWait shows how much.
	var inPass atomic.Bool
	var passWait, idleWait atomic.Int64
	stop, started := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			during := inPass.Load()
			t := time.Now()
			if _, err := s.Get(ctx, liveKeys[i%live]); err != nil {
				b.Error(err)
				return
			}
			d := int64(time.Since(t))
			during = during || inPass.Load()
			if i == 0 {
				close(started)
				continue
			}
			w := &idleWait
			if during {
				w = &passWait
			}
			if d > w.Load() {
				w.Store(d)
			}
		}
	})
	<-started
	time.Sleep(100 * time.Millisecond) // the idle window
	var passes, total, maxCall, maxCallCPU time.Duration
	runtime.LockOSThread() // for threadCPU
	defer runtime.UnlockOSThread()
	round := 0
	for b.Loop() {
		if expired && round > 0 {
			b.StopTimer() // the reader runs on, outside any pass
			fill(round)
			offset.Add(int64(2 * time.Hour))
			b.StartTimer()
		}
		round++
		t := time.Now()
		removed := 0
		inPass.Store(true)
		for {
			c := time.Now()
			cpu0, _ := threadCPU()
			m, err := s.DeleteExpired(ctx, 1000)
			cpu1, ok := threadCPU()
			maxCall = max(maxCall, time.Since(c))
			if ok {
				maxCallCPU = max(maxCallCPU, time.Duration(cpu1-cpu0))
			}
			if err != nil {
				b.Fatal(err)
			}
			removed += m
			if m < 1000 {
				break
			}
		}
		inPass.Store(false)
		total += time.Since(t)
		passes++
		if want := map[bool]int{false: 0, true: n - live}[expired]; removed != want {
			b.Fatalf("pass removed %d records, want %d", removed, want)
		}
	}
	close(stop)
	wg.Wait()
	b.ReportMetric(float64(passWait.Load())/1e3, "max-wait-µs")
	b.ReportMetric(float64(idleWait.Load())/1e3, "idle-max-wait-µs")
	b.ReportMetric(float64(maxCall.Microseconds()), "max-call-µs")
	b.ReportMetric(float64(maxCallCPU.Microseconds()), "max-call-cpu-µs")
	b.ReportMetric(float64(total.Microseconds())/float64(passes)/1e3, "pass-ms")
}

// BenchmarkHeap reports the heap a stored session costs beyond its data
// (heap-B/session: live heap after a full collection, per session, minus
// the 200 bytes of data each holds) and how long a full collection takes
// with the store live (gc-ms), which grows with the pointers the
// collector must follow.
func BenchmarkHeap(b *testing.B) {
	for _, n := range storetest.GrowthSizes() {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			var perSession, gcTime float64
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				s := memstore.New(memstore.Options{MaxEntries: 4_000_000, MaxBytes: 4 << 30, CleanupInterval: -1})
				exp := time.Now().Add(time.Hour)
				for i := range n {
					k := fmt.Sprintf("%016x%048x", uint64(i+1)*0x9E3779B97F4A7C15, 0)
					if _, err := s.Put(context.Background(), k, httpsession.Record{Data: make([]byte, 200), Expires: exp}); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				t := time.Now()
				runtime.GC()
				gcTime = float64(time.Since(t).Microseconds()) / 1e3
				runtime.ReadMemStats(&after)
				perSession = float64(after.HeapAlloc-before.HeapAlloc)/float64(n) - 200
				runtime.KeepAlive(s)
				s.Close()
				b.StartTimer()
			}
			b.ReportMetric(perSession, "heap-B/session")
			b.ReportMetric(gcTime, "gc-ms")
		})
	}
}
