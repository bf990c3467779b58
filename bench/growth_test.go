package bench

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
	"github.com/httpsession/httpsession/store/memstore"
	"github.com/httpsession/httpsession/store/open"
	"github.com/httpsession/httpsession/store/sqlstore"
	"github.com/httpsession/httpsession/store/storetest"
)

// The growth benchmarks (make bench-growth, growth.sh) measure how the
// cost of a request grows with the number of sessions a store holds, and
// what a sweep of expired sessions costs the requests beside it. Their
// knobs, from the environment:
//
//	BENCH_GROWTH_SIZES         the sizes, smallest first (default 1000,100000)
//	BENCH_GROWTH_ROUNDS        interleaved rounds of W2 and W3 (default 5)
//	BENCH_GROWTH_SWEEP_ROUNDS  rounds of each sweep benchmark (default 3)
//
// Every leaf reports load-1m, the machine's load average when it ended.

// growthSizes returns the sizes of BENCH_GROWTH_SIZES.
func growthSizes(b *testing.B) []int {
	v := os.Getenv("BENCH_GROWTH_SIZES")
	if v == "" {
		v = "1000,100000"
	}
	var sizes []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < storetest.GrowthWorking {
			b.Fatalf("BENCH_GROWTH_SIZES=%q: want sizes of at least %d, comma-separated", v, storetest.GrowthWorking)
		}
		sizes = append(sizes, n)
	}
	return sizes
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a whole number above 0", name, v)
	}
	return n
}

// reportLoad reports the 1-minute load average, which says how much other
// work shared the machine with the measurement.
func reportLoad(b *testing.B) {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return
	}
	if f := strings.Fields(string(raw)); len(f) > 0 {
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			b.ReportMetric(v, "load-1m")
		}
	}
}

// fillTimeout bounds the bulk load of one store at one size.
const fillTimeout = 10 * time.Minute

// A growthStore opens a store of its kind holding n sessions' worth of
// background records (n - storetest.GrowthWorking of them, expiring in a
// day), as a program would open it, after loading the records the
// fastest way the store's engine offers. i tells the sizes apart (a file,
// a table or a Redis database each). inHeap marks a store that keeps its
// records in the Go heap: the garbage collector's cost of a large store
// would fall on every measurement in the process, so such a store is
// filled afresh for each round and size, and dropped after it.
type growthStore struct {
	name   string
	open   func(b *testing.B, i, n int) httpsession.Store
	inHeap bool
}

var growthStores = []growthStore{
	{"memstore", openGrowthMem, true},
	{"boltstore", openGrowthBolt, false},
	{"sqlite", openGrowthSQLite, false},
	{"postgres", openGrowthPostgres, false},
	{"redis", openGrowthRedis, false},
}

// The warm-up after a store is filled: W2 requests for growthWarmUp, at
// most growthWarmUpMax of them. A bulk fill leaves the runtime with a heap
// of garbage to sweep and memory to return to the system, and for the
// first few hundred thousand requests after it W2 on a million sessions in
// memstore cost 2 to 3 times what it costs after (24 µs and then 5 µs
// per request here). A program serving a million sessions got them one
// request at a time; the warm-up measures that steady state, at every
// size alike.
const (
	growthWarmUp    = time.Second
	growthWarmUpMax = 200_000
)

// warmUp serves W2 on app for growthWarmUp or growthWarmUpMax requests,
// whichever ends first.
func warmUp(b *testing.B, app *storetest.GrowthApp) {
	deadline := time.Now().Add(growthWarmUp)
	for n := 0; n < growthWarmUpMax && time.Now().Before(deadline); n++ {
		if err := app.Serve("W2"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGrowth runs W2 (a read-only request) and W3 (an increment)
// through the middleware on 1,000 sessions chosen at random, on stores
// that hold each size of sessions, for memstore, boltstore, SQLite,
// PostgreSQL and Redis. Each round runs W2 and W3 at every size in turn,
// so that the sizes compared are measured next to each other in time and
// drift in the machine's load hits them alike. The stores of every size
// are filled first and stay open through the rounds, except memstore's,
// which is filled for each round and size (growthStore.inHeap).
//
// Each store is warmed up (warmUp) after it is filled.
//
//	Growth/store=S/round=R/sessions=N/work=W
func BenchmarkGrowth(b *testing.B) {
	sizes := growthSizes(b)
	rounds := envInt(b, "BENCH_GROWTH_ROUNDS", 5)
	for _, st := range growthStores {
		b.Run("store="+st.name, func(b *testing.B) {
			open := func(b *testing.B, i, n int) *storetest.GrowthApp {
				t := time.Now()
				s := st.open(b, i, n)
				app := storetest.NewGrowthApp(b, httpsession.Config{Store: s}, uint64(n))
				b.Logf("%s: %d sessions stored in %v", st.name, n, time.Since(t).Round(time.Millisecond))
				runtime.GC()
				warmUp(b, app)
				return app
			}
			apps := make([]*storetest.GrowthApp, len(sizes))
			if !st.inHeap {
				for i, n := range sizes {
					apps[i] = open(b, i, n)
				}
			}
			for r := 1; r <= rounds; r++ {
				b.Run("round="+strconv.Itoa(r), func(b *testing.B) {
					for i, n := range sizes {
						b.Run("sessions="+strconv.Itoa(n), func(b *testing.B) {
							app := apps[i]
							if st.inHeap {
								app = open(b, i, n) // closed when this sub-benchmark ends
							}
							for _, work := range []string{"W2", "W3"} {
								b.Run("work="+work, func(b *testing.B) {
									app.BenchWork(b, work)
									reportLoad(b)
								})
							}
						})
						runtime.GC() // the heap of an inHeap store is garbage now
					}
				})
			}
		})
	}
}

func openGrowthMem(b *testing.B, _, n int) httpsession.Store {
	s := openURL(b, fmt.Sprintf("mem:?max_entries=%d&max_bytes=%d", 2*n, int64(n)*1024+64<<20))
	storetest.FillGrowth(b, s, n-storetest.GrowthWorking, time.Now().Add(24*time.Hour), nil)
	return s
}

// openGrowthBolt opens bolt:PATH as a program does and writes the records
// straight into its bbolt database (Store.DB) in transactions of 50,000,
// in boltstore's layout: the records bucket (format byte, version, expiry,
// owner length, data) and the expiry index. A Put of one record per
// commit would take an hour at a million.
func openGrowthBolt(b *testing.B, i, n int) httpsession.Store {
	path := filepath.Join(b.TempDir(), fmt.Sprintf("growth-%d.db", i))
	s := openURL(b, "bolt:"+path)
	db := s.(*boltstore.Store).DB()
	exp := time.Now().Add(24 * time.Hour)
	rec := storetest.GrowthRecord(exp)
	bg := n - storetest.GrowthWorking
	deadline := time.Now().Add(fillTimeout)
	for start := 0; start < bg; start += 50_000 {
		if time.Now().After(deadline) {
			b.Fatalf("filling boltstore: over %v", fillTimeout)
		}
		err := db.Update(func(tx *bolt.Tx) error {
			top := tx.Bucket([]byte(boltstore.DefaultBucket))
			records, expiry := top.Bucket([]byte("records")), top.Bucket([]byte("expiry"))
			for j := start; j < min(start+50_000, bg); j++ {
				k, r := rec(j)
				v := make([]byte, 19, 19+len(r.Data))
				v[0] = 1 // the format
				binary.BigEndian.PutUint64(v[1:], uint64(j+1))
				binary.BigEndian.PutUint64(v[9:], uint64(exp.UnixNano()))
				v = append(v, r.Data...) // no owner: length 0
				if err := records.Put([]byte(k), v); err != nil {
					return err
				}
				ek := binary.BigEndian.AppendUint64(nil, uint64(exp.UnixNano())^1<<63)
				if err := expiry.Put(append(ek, k...), nil); err != nil {
					return err
				}
			}
			// Versions come from the bucket's sequence: past the loaded ones.
			return records.SetSequence(uint64(bg) + 1)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if bg > 0 {
		k, _ := rec(bg / 2)
		checkRecord(b, s, k)
	}
	return s
}

// openGrowthSQLite opens sqlite:PATH, which creates the table, and
// inserts the records inside SQLite (random keys, zero data), 100,000 per
// transaction, then checkpoints the log so that the first write measured
// does not copy the whole load into the database.
func openGrowthSQLite(b *testing.B, i, n int) httpsession.Store {
	path := filepath.Join(b.TempDir(), fmt.Sprintf("growth-%d.sqlite", i))
	s := openURL(b, "sqlite:"+path)
	fillSQLite(b, path, n-storetest.GrowthWorking, time.Now().Add(24*time.Hour))
	checkFilled(b, s, sqliteDB(b, path), `"httpsession_sessions"`, n-storetest.GrowthWorking)
	return s
}

// sqliteDB opens a second handle on the SQLite database at path, closed
// when b ends.
func sqliteDB(b *testing.B, path string) *sql.DB {
	dsn, err := sqlstore.SQLiteDSN(path)
	if err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// fillSQLite inserts n records expiring at exp into the store's table of
// the SQLite database at path (sqlstore's documented schema).
func fillSQLite(b *testing.B, path string, n int, exp time.Time) {
	db := sqliteDB(b, path)
	ctx, cancel := context.WithTimeout(context.Background(), fillTimeout)
	defer cancel()
	const batch = 100_000
	for start := 0; start < n; start += batch {
		_, err := db.ExecContext(ctx, `INSERT INTO "httpsession_sessions" ("key", "data", "expires", "version", "owner")
			WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM c WHERE i + 1 < ?)
			SELECT lower(hex(randomblob(32))), zeroblob(200), ?, i + 1, NULL FROM c`,
			start, min(start+batch, n), exp.UnixMilli())
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
}

// checkFilled checks that table holds n rows and that the store reads one
// of them back: the bulk load wrote what the store writes.
func checkFilled(b *testing.B, s httpsession.Store, db *sql.DB, table string, n int) {
	b.Helper()
	var count int
	if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&count); err != nil {
		b.Fatal(err)
	}
	if count != n {
		b.Fatalf("%s holds %d rows after the load, want %d", table, count, n)
	}
	if n == 0 {
		return
	}
	var key string
	if err := db.QueryRow(`SELECT "key" FROM ` + table + ` LIMIT 1`).Scan(&key); err != nil {
		b.Fatal(err)
	}
	checkRecord(b, s, key)
}

// checkRecord checks that the store reads key as a background record.
func checkRecord(b *testing.B, s httpsession.Store, key string) {
	b.Helper()
	rec, err := s.Get(context.Background(), key)
	if err != nil {
		b.Fatalf("reading back loaded record %s: %v", key, err)
	}
	if len(rec.Data) != 200 || time.Until(rec.Expires) < time.Hour {
		b.Fatalf("loaded record %s reads back as %d bytes expiring %v", key, len(rec.Data), rec.Expires)
	}
}

// openGrowthPostgres opens the server of BENCH_POSTGRES_URL with a table
// per size (growth_N), dropped first, and inserts the records inside
// PostgreSQL, then VACUUM ANALYZE, as autovacuum would leave a table that
// has settled.
func openGrowthPostgres(b *testing.B, _, n int) httpsession.Store {
	base := server(b, "BENCH_POSTGRES_URL", "PostgreSQL")
	table := fmt.Sprintf("growth_%d", n)
	db, err := sql.Open("pgx", base)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), fillTimeout)
	defer cancel()
	if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+table); err != nil {
		b.Fatal(err)
	}
	s := openURL(b, withParam(b, base, "table", table))
	bg := n - storetest.GrowthWorking
	if bg > 0 {
		_, err = db.ExecContext(ctx, `INSERT INTO `+table+` ("key", "data", "expires", "version", "owner")
			SELECT md5(i::text) || md5((-i)::text), (SELECT decode(repeat('00', 200), 'hex')), $1, i, NULL
			FROM generate_series(1, $2::bigint) AS i`, time.Now().Add(24*time.Hour).UnixMilli(), bg)
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `VACUUM ANALYZE `+table); err != nil {
		b.Fatal(err)
	}
	checkFilled(b, s, db, table, bg)
	return s
}

// withParam adds name=value to the query of a URL.
func withParam(b *testing.B, raw, name, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set(name, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// openGrowthRedis opens Redis database i+1 of the server of
// BENCH_REDIS_ADDR (a database per size: each has its own keyspace),
// empties it and writes the records in pipelines of 1,000, in redisstore's
// documented layout (a hash of data, exp, ver and owner, with PEXPIREAT).
func openGrowthRedis(b *testing.B, i, n int) httpsession.Store {
	addr := server(b, "BENCH_REDIS_ADDR", "Redis")
	c := redis.NewClient(&redis.Options{Addr: addr, DB: i + 1})
	b.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), fillTimeout)
	defer cancel()
	if err := c.FlushDB(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	s := openURL(b, fmt.Sprintf("redis://%s/%d", addr, i+1))
	bg := n - storetest.GrowthWorking
	exp := time.Now().Add(24 * time.Hour)
	rec := storetest.GrowthRecord(exp)
	const pipe = 1000
	for start := 0; start < bg; start += pipe {
		p := c.Pipeline()
		for j := start; j < min(start+pipe, bg); j++ {
			k, r := rec(j)
			p.HSet(ctx, redisstorePrefix+k, "data", r.Data, "exp", exp.UnixMilli(), "ver", j+1, "owner", "")
			p.PExpireAt(ctx, redisstorePrefix+k, exp)
		}
		if _, err := p.Exec(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if got, err := c.DBSize(ctx).Result(); err != nil || got != int64(bg) {
		b.Fatalf("Redis database %d holds %d keys after the load (%v), want %d", i+1, got, err, bg)
	}
	if bg > 0 {
		k, _ := rec(bg / 2)
		checkRecord(b, s, k)
	}
	return s
}

// redisstorePrefix is redisstore's default key prefix, which redis://
// URLs without prefix= use.
const redisstorePrefix = "httpsession:"

// openURL opens a store as programs that take it as configuration do,
// closed when b ends.
func openURL(b *testing.B, raw string) httpsession.Store {
	b.Helper()
	s, closeStore, err := open.Open(context.Background(), raw)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { closeStore() })
	return s
}

// latencies records the duration of requests, up to a bound, and the
// largest of all of them.
type latencies struct {
	d   []time.Duration
	max time.Duration
	n   int
}

const maxSamples = 4_000_000

func (l *latencies) add(d time.Duration) {
	l.n++
	l.max = max(l.max, d)
	if len(l.d) < maxSamples {
		l.d = append(l.d, d)
	}
}

// quantile returns the q quantile of the recorded durations.
func (l *latencies) quantile(q float64) time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// over counts the recorded durations over d.
func (l *latencies) over(d time.Duration) int {
	n := 0
	for _, x := range l.d {
		if x > d {
			n++
		}
	}
	return n
}

// A w2Reader runs W2 requests through an app in a loop, from one
// goroutine, and sorts their durations into idle and during: a request
// that overlapped a sweep is during. sweeps counts the starts and ends of
// sweeps (odd while one runs), so a request that began before a short
// sweep and ended after it counts as during too.
type w2Reader struct {
	sweeps      atomic.Int64
	idle        latencies
	during      latencies
	errs        int
	firstErr    error
	stop, ended chan struct{}
}

// startW2 starts the reader; stopAndWait ends it.
func startW2(app *storetest.GrowthApp, deadline time.Time) *w2Reader {
	r := &w2Reader{stop: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(r.ended)
		for time.Now().Before(deadline) {
			select {
			case <-r.stop:
				return
			default:
			}
			g := r.sweeps.Load()
			t := time.Now()
			err := app.Serve("W2")
			d := time.Since(t)
			during := g%2 == 1 || r.sweeps.Load() != g
			if err != nil {
				r.errs++
				if r.firstErr == nil {
					r.firstErr = err
				}
			}
			if during {
				r.during.add(d)
			} else {
				r.idle.add(d)
			}
		}
	}()
	return r
}

// sweep marks the start and the end of a sweep.
func (r *w2Reader) sweep() { r.sweeps.Add(1) }

func (r *w2Reader) stopAndWait() {
	close(r.stop)
	<-r.ended
}

func µs(d time.Duration) float64 { return float64(d) / 1e3 }

// janitorBatch and janitorPass are the Manager's: a pass deletes expired
// records in batches of 1,000 until a batch comes back short, for at most
// a minute.
const (
	janitorBatch = 1000
	janitorPass  = time.Minute
)

// sweepPass runs one pass of the Manager's janitor on c and returns what
// it deleted, the longest single DeleteExpired call and the error that
// ended it, if any (a pass that ran out of its minute ends with
// context.DeadlineExceeded).
func sweepPass(c httpsession.Cleaner) (deleted int, longest time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), janitorPass)
	defer cancel()
	for ctx.Err() == nil {
		t := time.Now()
		n, err := c.DeleteExpired(ctx, janitorBatch)
		longest = max(longest, time.Since(t))
		deleted += n
		if err != nil {
			return deleted, longest, err
		}
		if n < janitorBatch {
			return deleted, longest, nil
		}
	}
	return deleted, longest, ctx.Err()
}

// BenchmarkSweepStall measures how long a request waits on memstore while
// the Manager's janitor sweeps it, at the largest size. Each round fills
// a store (1,000 working sessions made through a Manager, the rest
// background records expiring in an hour) and, while one goroutine runs
// W2 requests through the middleware in a loop:
//
//	kind=live     100 janitor passes 10 ms apart with nothing expired
//	kind=expired  the clock moves 2 hours on, and one pass deletes every
//	              background record
//
// max-wait-µs is the longest request that overlapped a pass, p99-wait-µs
// the 99th percentile of those; idle-max-wait-µs the longest request
// outside any pass (a 500 ms window first, and between passes), which is
// the machine's own noise: on a shared machine the scheduler alone
// stalls a goroutine for milliseconds. max-call-µs is the longest
// DeleteExpired call, pass-ms the time of a pass.
//
// Each round is a leaf that runs once (a round takes seconds: with
// -benchtime=1x, or any benchtime under the time of a round).
//
//	SweepStall/store=memstore/sessions=N/round=R/kind=K
func BenchmarkSweepStall(b *testing.B) {
	sizes := growthSizes(b)
	n := sizes[len(sizes)-1]
	rounds := envInt(b, "BENCH_GROWTH_SWEEP_ROUNDS", 3)
	for r := 1; r <= rounds; r++ {
		for _, kind := range []string{"live", "expired"} {
			b.Run(fmt.Sprintf("store=memstore/sessions=%d/round=%d/kind=%s", n, r, kind), func(b *testing.B) {
				for b.Loop() { // once: a round takes seconds
					sweepStallRound(b, n, kind == "expired")
				}
				reportLoad(b)
			})
		}
	}
}

// sweepStallRound fills a store, runs the passes of one kind of
// BenchmarkSweepStall beside the W2 reader and reports what they saw.
func sweepStallRound(b *testing.B, n int, expired bool) {
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	s := memstore.New(memstore.Options{MaxEntries: 2 * n, MaxBytes: int64(n)*1024 + 64<<20, Now: now})
	defer s.Close()
	bg := n - storetest.GrowthWorking
	storetest.FillGrowth(b, s, bg, time.Now().Add(time.Hour), nil)
	// The working sessions outlive the clock's move.
	app := storetest.NewGrowthApp(b, httpsession.Config{Store: s, Lifetime: 48 * time.Hour}, uint64(n))
	runtime.GC()

	reader := startW2(app, time.Now().Add(5*time.Minute))
	time.Sleep(500 * time.Millisecond) // the idle window
	var deleted, passes int
	var longest, total time.Duration
	pass := func() {
		reader.sweep()
		t := time.Now()
		d, l, err := sweepPass(s)
		total += time.Since(t)
		reader.sweep()
		if err != nil {
			reader.stopAndWait()
			b.Fatal(err)
		}
		deleted += d
		longest = max(longest, l)
		passes++
	}
	want := 0
	if expired {
		offset.Store(int64(2 * time.Hour))
		pass()
		want = bg
		time.Sleep(100 * time.Millisecond)
	} else {
		for range 100 {
			pass()
			time.Sleep(10 * time.Millisecond)
		}
	}
	reader.stopAndWait()
	if reader.errs > 0 {
		b.Fatalf("%d W2 requests failed, the first: %v", reader.errs, reader.firstErr)
	}
	if deleted != want {
		b.Fatalf("the passes deleted %d records, want %d", deleted, want)
	}
	b.ReportMetric(µs(reader.during.max), "max-wait-µs")
	b.ReportMetric(µs(reader.during.quantile(0.99)), "p99-wait-µs")
	b.ReportMetric(float64(reader.during.n), "requests-during")
	b.ReportMetric(µs(reader.idle.max), "idle-max-wait-µs")
	b.ReportMetric(µs(reader.idle.quantile(0.99)), "idle-p99-µs")
	b.ReportMetric(µs(longest), "max-call-µs")
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(passes), "pass-ms")
	b.ReportMetric(float64(deleted), "deleted")
}

// BenchmarkSQLiteSweep measures the janitor's sweep of SQLite at the
// largest size: a database of that many expired rows and the 1,000
// working sessions, swept by back-to-back passes of the Manager's janitor
// (each at most a minute, three minutes in all) until one ends short,
// while one goroutine runs W2 requests through the middleware, after a
// 2-second idle window.
// Reported: the rows, sweep-s (all passes), passes, deleted (what the
// passes reported) and gone (what left the table: the two differ when a
// pass misreports), errors (calls that failed, a pass's deadline
// included), left (expired rows still there), W2's idle and during p99
// and max, the requests over 10 ms during the sweep, and wal-max-MB, the
// largest the -wal file grew while the sweep ran.
//
//	SQLiteSweep/sessions=N/round=R
func BenchmarkSQLiteSweep(b *testing.B) {
	sizes := growthSizes(b)
	n := sizes[len(sizes)-1]
	rounds := envInt(b, "BENCH_GROWTH_SWEEP_ROUNDS", 3)
	for r := 1; r <= rounds; r++ {
		b.Run(fmt.Sprintf("sessions=%d/round=%d", n, r), func(b *testing.B) {
			for b.Loop() { // once: a round takes seconds
				sqliteSweepRound(b, n)
			}
			reportLoad(b)
		})
	}
}

func sqliteSweepRound(b *testing.B, n int) {
	path := filepath.Join(b.TempDir(), "sweep.sqlite")
	s := openURL(b, "sqlite:"+path)
	c, ok := s.(httpsession.Cleaner)
	if !ok {
		b.Fatalf("%T is not a httpsession.Cleaner", s)
	}
	fillSQLite(b, path, n, time.Now().Add(-time.Hour))
	db := sqliteDB(b, path)
	expiredRows := func() int {
		var left int
		if err := db.QueryRow(`SELECT count(*) FROM "httpsession_sessions" WHERE "expires" < ?`, time.Now().UnixMilli()).Scan(&left); err != nil {
			b.Fatal(err)
		}
		return left
	}
	before := expiredRows()
	app := storetest.NewGrowthApp(b, httpsession.Config{Store: s}, uint64(n))
	runtime.GC()

	// The -wal file's size, every 50 ms while the sweep runs.
	var walMax atomic.Int64
	walStop, walDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(walDone)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > walMax.Load() {
				walMax.Store(fi.Size())
			}
			select {
			case <-walStop:
				return
			case <-tick.C:
			}
		}
	}()

	const bound = 3 * janitorPass // all the passes, however slow
	reader := startW2(app, time.Now().Add(bound+time.Minute))
	time.Sleep(2 * time.Second) // the idle window
	var deleted, passes, errs int
	var firstErr error
	t := time.Now()
	reader.sweep()
	for time.Since(t) < bound {
		d, _, err := sweepPass(c)
		deleted += d
		passes++
		if err != nil {
			errs++
			if firstErr == nil {
				firstErr = err
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				break
			}
			continue // the next pass carries on, as the janitor's next tick would
		}
		break
	}
	sweep := time.Since(t)
	reader.sweep()
	reader.stopAndWait()
	close(walStop)
	<-walDone
	if reader.errs > 0 {
		b.Fatalf("%d W2 requests failed, the first: %v", reader.errs, reader.firstErr)
	}
	if firstErr != nil {
		b.Logf("sweep: %d errors, the first: %v", errs, firstErr)
	}
	left := expiredRows()
	b.ReportMetric(float64(n), "rows")
	b.ReportMetric(sweep.Seconds(), "sweep-s")
	b.ReportMetric(float64(passes), "passes")
	b.ReportMetric(float64(deleted), "deleted")
	b.ReportMetric(float64(before-left), "gone")
	b.ReportMetric(float64(left), "left")
	b.ReportMetric(float64(errs), "errors")
	b.ReportMetric(µs(reader.idle.quantile(0.99)), "idle-p99-µs")
	b.ReportMetric(µs(reader.during.quantile(0.99)), "p99-µs")
	b.ReportMetric(µs(reader.idle.max), "idle-max-µs")
	b.ReportMetric(µs(reader.during.max), "max-µs")
	b.ReportMetric(float64(reader.during.over(10*time.Millisecond)), "over-10ms")
	b.ReportMetric(float64(reader.during.n), "requests-during")
	b.ReportMetric(float64(walMax.Load())/1e6, "wal-max-MB")
}
