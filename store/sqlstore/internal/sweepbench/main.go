// Command sweepbench measures sqlstore's sweep of expired sessions on
// SQLite: it fills a database with many expired records and a thousand
// live ones, reads the live ones (the store's side of W2: one Get per
// request) while idle and again while the sweep runs, with one writer
// updating live records beside them, and reports the sweep's time, the
// read latencies, the largest write-ahead log and any error.
//
//	go run ./store/sqlstore/internal/sweepbench -rows 1000000
//
// The sweep runs as the Manager's janitor does: DeleteExpired(ctx, 1000)
// until a call deletes fewer, in passes of at most a minute.
package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/sqlstore"
)

func main() {
	rows := flag.Int("rows", 200_000, "expired records to sweep")
	live := flag.Int("live", 1000, "live records the readers read")
	readers := flag.Int("readers", 2, "concurrent readers")
	pace := flag.Duration("pace", time.Millisecond, "each reader's rest between two reads (W2 as requests arrive, not a closed loop that takes every CPU)")
	idle := flag.Duration("idle", 5*time.Second, "how long to measure the readers before the sweep")
	dataSize := flag.Int("data", 256, "bytes of data per record")
	dir := flag.String("dir", "", "directory for the database (default: a new temporary one, removed at the end)")
	order := flag.String("order", "spread", "which expired records expire first: spread (every 86,400th record inserted, so each batch touches pages all over the table) or insert (the first inserted, as sessions that were never touched again)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the sweep to this file")
	flag.Parse()
	if *order != "spread" && *order != "insert" {
		log.Fatalf("-order %q: want spread or insert", *order)
	}

	if *dir == "" {
		d, err := os.MkdirTemp("", "sweepbench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	path := filepath.Join(*dir, "sessions.db")
	dsn, err := sqlstore.SQLiteDSN(path)
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	s, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.SQLite, AutoCreate: true})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()

	t0 := time.Now()
	liveKeys := fill(ctx, db, *rows, *live, *dataSize, *order == "insert")
	fi, _ := os.Stat(path)
	fmt.Printf("filled %d expired and %d live records in %v; database %.0f MB\n",
		*rows, *live, time.Since(t0).Round(time.Millisecond), float64(fi.Size())/1e6)
	// Start from a truncated log, as a program whose janitor ran would.
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		log.Fatal(err)
	}

	idleStats := load(ctx, s, liveKeys, *readers, *pace, *dataSize, path, func() { time.Sleep(*idle) })
	var (
		deleted, calls int
		sweepErrs      []error
		took           time.Duration
	)
	busyStats := load(ctx, s, liveKeys, *readers, *pace, *dataSize, path, func() {
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				log.Fatal(err)
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				log.Fatal(err)
			}
			defer pprof.StopCPUProfile()
		}
		start := time.Now()
		deleted, calls, sweepErrs = janitor(s)
		took = time.Since(start)
	})

	var left int
	if err := db.QueryRow(`SELECT count(*) FROM "httpsession_sessions"`).Scan(&left); err != nil {
		log.Fatal(err)
	}
	fi, _ = os.Stat(path)
	fmt.Printf("sweep: %d records deleted (%d reported) in %v, %d calls of DeleteExpired(1000), %.0f records/s; %d errors; %d records left (want %d)\n",
		*rows+*live-left, deleted, took.Round(time.Millisecond), calls, float64(deleted)/took.Seconds(), len(sweepErrs), left, *live)
	for _, err := range sweepErrs {
		fmt.Println("  sweep error:", err)
	}
	fmt.Printf("database %.0f MB after the sweep (freed pages stay in the file until VACUUM)\n", float64(fi.Size())/1e6)
	fmt.Printf("%-12s %9s %9s %9s %9s %9s %7s %7s %9s %8s\n", "reads", "count", "p50", "p99", "p99.9", "max", ">10ms", ">100ms", "max WAL", "errors")
	idleStats.print("idle")
	busyStats.print("sweeping")
	fmt.Printf("p99 while sweeping / idle: %.2f\n", float64(busyStats.pct(0.99))/float64(idleStats.pct(0.99)))
}

func key(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:])
}

// fill inserts expired records and live ones, in large transactions, and
// returns the live ones' keys. The expired ones expire in the order they
// were inserted if inOrder, else in an order spread over the table.
func fill(ctx context.Context, db *sql.DB, rows, live, size int, inOrder bool) []string {
	now := time.Now()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	insert := func(from, to int, label string, expires time.Time, keys *[]string) {
		const perTx = 20_000
		for start := from; start < to; start += perTx {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				log.Fatal(err)
			}
			st, err := tx.Prepare(`INSERT INTO "httpsession_sessions" ("key", "data", "expires", "version", "owner") VALUES (?, ?, ?, 1, ?)`)
			if err != nil {
				log.Fatal(err)
			}
			for i := start; i < min(start+perTx, to); i++ {
				k := key(fmt.Sprint(label, i))
				var owner any
				if i%10 == 0 {
					owner = fmt.Sprint("user", i%5000)
				}
				// Spread the expired ones over the last day, or make the
				// first inserted expire first.
				exp := expires.Add(-time.Duration(i%86400) * time.Second)
				if inOrder {
					exp = expires.Add(-time.Duration(to-i) * time.Millisecond)
				}
				if _, err := st.Exec(k, data, exp.UnixMilli(), owner); err != nil {
					log.Fatal(err)
				}
				if keys != nil {
					*keys = append(*keys, k)
				}
			}
			if err := tx.Commit(); err != nil {
				log.Fatal(err)
			}
		}
	}
	insert(0, rows, "expired", now.Add(-time.Minute), nil)
	var keys []string
	insert(0, live, "live", now.Add(48*time.Hour), &keys)
	return keys
}

// janitor deletes expired records as the Manager's janitor does.
func janitor(c httpsession.Cleaner) (deleted, calls int, errs []error) {
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		for ctx.Err() == nil {
			n, err := c.DeleteExpired(ctx, 1000)
			calls++
			deleted += n
			if err != nil {
				if ctx.Err() == nil { // the Manager logs only these
					errs = append(errs, err)
				}
				break
			}
			if n < 1000 {
				cancel()
				return deleted, calls, errs
			}
		}
		cancel()
	}
}

type stats struct {
	reads  []time.Duration
	writes []time.Duration
	maxWAL int64
	errs   int
}

func (st *stats) pct(p float64) time.Duration {
	if len(st.reads) == 0 {
		return 0
	}
	return st.reads[min(len(st.reads)-1, int(p*float64(len(st.reads))))]
}

func (st *stats) print(name string) {
	slices.Sort(st.reads)
	slices.Sort(st.writes)
	row := func(label string, d []time.Duration) {
		if len(d) == 0 {
			return
		}
		at := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
		over := func(lim time.Duration) int {
			i, _ := slices.BinarySearch(d, lim)
			return len(d) - i
		}
		fmt.Printf("%-12s %9d %9v %9v %9v %9v %7d %7d %8.1fM %8d\n", label, len(d),
			at(0.5).Round(time.Microsecond), at(0.99).Round(time.Microsecond), at(0.999).Round(time.Microsecond),
			d[len(d)-1].Round(time.Microsecond), over(10*time.Millisecond), over(100*time.Millisecond),
			float64(st.maxWAL)/1e6, st.errs)
	}
	row(name, st.reads)
	row(name+" (w)", st.writes)
}

// load runs readers on the live keys, one writer updating them, and a
// watcher of the log's size, for as long as during runs.
func load(ctx context.Context, s *sqlstore.Store, keys []string, readers int, pace time.Duration, size int, path string, during func()) *stats {
	var (
		st   stats
		mu   sync.Mutex
		stop atomic.Bool
		wg   sync.WaitGroup
		errs atomic.Int64
	)
	for r := range readers {
		wg.Go(func() {
			var lat []time.Duration
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			for i := 0; !stop.Load() && i < 50_000_000; i++ {
				k := keys[rng.IntN(len(keys))]
				t0 := time.Now()
				if _, err := s.Get(ctx, k); err != nil {
					errs.Add(1)
				}
				lat = append(lat, time.Since(t0))
				time.Sleep(pace)
			}
			mu.Lock()
			st.reads = append(st.reads, lat...)
			mu.Unlock()
		})
	}
	wg.Go(func() { // one write every 5 ms: sessions that change
		var lat []time.Duration
		data := make([]byte, size)
		for i := 0; !stop.Load() && i < 10_000_000; i++ {
			k := keys[i%len(keys)]
			t0 := time.Now()
			rec, err := s.Get(ctx, k)
			if err == nil {
				_, err = s.Put(ctx, k, httpsession.Record{Data: data, Expires: time.Now().Add(48 * time.Hour), Version: rec.Version})
			}
			if err != nil {
				errs.Add(1)
			}
			lat = append(lat, time.Since(t0))
			time.Sleep(5 * time.Millisecond)
		}
		mu.Lock()
		st.writes = lat
		mu.Unlock()
	})
	wg.Go(func() {
		for !stop.Load() {
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > st.maxWAL {
				mu.Lock()
				st.maxWAL = max(st.maxWAL, fi.Size())
				mu.Unlock()
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	during()
	stop.Store(true)
	wg.Wait()
	st.errs = int(errs.Load())
	slices.Sort(st.reads)
	return &st
}
