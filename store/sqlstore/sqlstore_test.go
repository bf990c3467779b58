package sqlstore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/sqlstore"
	"github.com/httpsession/httpsession/store/storetest"
)

// testMaxRecordSize keeps the conformance suite's at-limit records small;
// the DefaultMaxRecordSize subtest checks the default.
const testMaxRecordSize = 2 << 20

// callTimeout bounds the store calls of one test: generous, for a loaded
// machine.
const callTimeout = time.Minute

func openDB(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("sql.Open(%q): %v", driver, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openSQLite(t testing.TB) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	return openDB(t, "sqlite", "file:"+path+"?"+sqlstore.SQLiteParams)
}

func openPostgres(t testing.TB) (*testservice.Server, *sql.DB) {
	t.Helper()
	srv := testservice.Postgres(t)
	return srv, openDB(t, "pgx", srv.DSN())
}

func openMariaDB(t testing.TB) (*testservice.Server, *sql.DB) {
	t.Helper()
	srv := testservice.MariaDB(t)
	return srv, openDB(t, "mysql", srv.DSN())
}

var tableSeq atomic.Int64

// unprepared holds the *sql.DBs behind PgBouncer in transaction mode, on
// which newStore makes stores with NoPreparedStatements.
var unprepared sync.Map

// openPgBouncer returns a private PostgreSQL behind a private PgBouncer in
// transaction mode, and a *sql.DB through the PgBouncer whose URL asks pgx
// for mode (exec or simple_protocol).
func openPgBouncer(t testing.TB, mode string) (pg, bouncer *testservice.Server, db *sql.DB) {
	t.Helper()
	pg = testservice.Postgres(t)
	bouncer = testservice.PgBouncer(t, pg)
	db = openDB(t, "pgx", bouncer.DSN()+"&default_query_exec_mode="+mode)
	unprepared.Store(db, true)
	return pg, bouncer, db
}

// tableRun tells apart the tables of test runs that share an external
// server (HTTPSESSION_TEST_POSTGRES, HTTPSESSION_TEST_MYSQL).
var tableRun = func() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}()

// newStore returns a store on a fresh table of db, dropped when the test
// ends.
func newStore(t testing.TB, db *sql.DB, d sqlstore.Dialect, opts sqlstore.Options) *sqlstore.Store {
	t.Helper()
	opts.Dialect = d
	if opts.Table == "" {
		opts.Table = fmt.Sprintf("hs_test_%s_%d", tableRun, tableSeq.Add(1))
		t.Cleanup(func() {
			if _, err := db.Exec("DROP TABLE IF EXISTS " + opts.Table); err != nil {
				t.Errorf("drop table %s: %v", opts.Table, err)
			}
		})
	}
	opts.AutoCreate = true
	if _, ok := unprepared.Load(db); ok {
		opts.NoPreparedStatements = true
	}
	s, err := sqlstore.New(db, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	testDialect(t, sqlstore.SQLite, openSQLite(t))
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	srv, db := openPostgres(t)
	testDialect(t, sqlstore.Postgres, db)
	// Last: it kills the server.
	t.Run("KillRestart", func(t *testing.T) { testKillRestart(t, sqlstore.Postgres, srv, db) })
}

// TestPgBouncer runs the dialect's tests through PgBouncer in transaction
// pooling mode, where consecutive statements of one *sql.DB connection may
// run on different server connections.
func TestPgBouncer(t *testing.T) {
	t.Parallel()
	pg, _, db := openPgBouncer(t, "exec")
	testDialect(t, sqlstore.Postgres, db)
	// Last: it kills the server behind PgBouncer, which stays up.
	defer t.Run("KillRestart", func(t *testing.T) { testKillRestart(t, sqlstore.Postgres, pg, db) })
	t.Run("SimpleProtocol", func(t *testing.T) {
		_, bouncer, _ := openPgBouncer(t, "exec")
		db := openDB(t, "pgx", bouncer.DSN()+"&default_query_exec_mode=simple_protocol")
		unprepared.Store(db, true)
		storetest.Run(t, func(t *testing.T) httpsession.Store {
			return newStore(t, db, sqlstore.Postgres, sqlstore.Options{MaxRecordSize: testMaxRecordSize})
		}, storetest.Options{MaxRecordSize: testMaxRecordSize})
	})
}

func TestMariaDB(t *testing.T) {
	t.Parallel()
	srv, db := openMariaDB(t)
	testDialect(t, sqlstore.MySQL, db)
	t.Run("ServerTooLarge", func(t *testing.T) { testServerTooLarge(t, db) })
	defer t.Run("KillRestart", func(t *testing.T) { testKillRestart(t, sqlstore.MySQL, srv, db) })
	t.Run("ClientFoundRows", func(t *testing.T) {
		found := openDB(t, "mysql", srv.DSN()+"&clientFoundRows=true")
		s, err := sqlstore.New(found, sqlstore.Options{Dialect: sqlstore.MySQL})
		if err == nil || !strings.Contains(err.Error(), "clientFoundRows") {
			t.Fatalf("New on a DSN with clientFoundRows=true = %v, %v; want an error naming it", s, err)
		}
	})
}

// testDialect runs the tests that every dialect passes, on one database.
func testDialect(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) httpsession.Store {
			return newStore(t, db, d, sqlstore.Options{MaxRecordSize: testMaxRecordSize})
		}, storetest.Options{MaxRecordSize: testMaxRecordSize})
	})
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, d sqlstore.Dialect, db *sql.DB)
	}{
		{"CreateRace", testCreateRace},
		{"CreateRaceExpired", testCreateRaceExpired},
		{"Cleaner", testCleaner},
		{"SweepDeadline", testSweepDeadline},
		{"Clock", testClock},
		{"TouchSameExpiry", testTouchSameExpiry},
		{"Limits", testLimits},
		{"DefaultMaxRecordSize", testDefaultMaxRecordSize},
		{"CreateTableTwice", testCreateTableTwice},
		{"ListPages", testListPages},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, d, db) })
	}
}

// stepTimeout bounds the context of ctxT, which a subtest shares between
// all its store calls: thousands of Puts (Cleaner) or rounds of 50 racing
// writers (CreateRaceExpired) take well over callTimeout with the race
// detector on a loaded 2-core machine, where a shared 10 s made TestPostgres
// fail with "context deadline exceeded".
const stepTimeout = 2 * time.Minute

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), stepTimeout)
	t.Cleanup(cancel)
	return ctx
}

// key returns a key shaped like the Manager's: 64 hex digits.
func key(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:])
}

func countRows(t *testing.T, db *sql.DB, table, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM "+table+" "+where, args...).Scan(&n); err != nil {
		t.Fatalf("count rows: %v", err)
	}
	return n
}

// race runs n first writes (version 0) of key at once and returns the
// versions of the winners.
func race(t *testing.T, s *sqlstore.Store, k string, n int) []uint64 {
	t.Helper()
	ctx := ctxT(t)
	var (
		mu      sync.Mutex
		winners []uint64
		wg      sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			v, err := s.Put(ctx, k, httpsession.Record{Data: fmt.Appendf(nil, "writer %d", i), Expires: time.Now().Add(time.Hour)})
			switch {
			case err == nil:
				mu.Lock()
				winners = append(winners, v)
				mu.Unlock()
			case !errors.Is(err, httpsession.ErrConflict):
				t.Errorf("writer %d: %v, want nil or ErrConflict", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	return winners
}

func testCreateRace(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	table := fmt.Sprintf("hs_race_%s_%d", tableRun, tableSeq.Add(1))
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE " + table) })
	s := newStore(t, db, d, sqlstore.Options{Table: table})
	for round := range 5 {
		k := key(fmt.Sprint("race", round))
		winners := race(t, s, k, 50)
		if len(winners) != 1 {
			t.Fatalf("round %d: %d of 50 concurrent creates won, want 1", round, len(winners))
		}
		rec, err := s.Get(ctxT(t), k)
		if err != nil || rec.Version != winners[0] {
			t.Fatalf("round %d: Get = version %d, %v; want the winner's version %d", round, rec.Version, err, winners[0])
		}
		if n := countRows(t, db, table, ""); n != round+1 {
			t.Fatalf("round %d: %d rows in the table, want %d", round, n, round+1)
		}
	}
}

// testCreateRaceExpired races creates over an expired row, which the
// atomic create replaces: exactly one may do it.
func testCreateRaceExpired(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	s := newStore(t, db, d, sqlstore.Options{})
	ctx := ctxT(t)
	for round := range 5 {
		k := key(fmt.Sprint("expired", round))
		old, err := s.Put(ctx, k, httpsession.Record{Data: []byte("dead"), Expires: time.Now().Add(-time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		winners := race(t, s, k, 50)
		if len(winners) != 1 {
			t.Fatalf("round %d: %d of 50 concurrent creates over an expired row won, want 1", round, len(winners))
		}
		if winners[0] == old {
			t.Fatalf("round %d: the new record has the expired one's version %d", round, old)
		}
		if rec, err := s.Get(ctx, k); err != nil || rec.Version != winners[0] {
			t.Fatalf("round %d: Get = version %d, %v; want %d", round, rec.Version, err, winners[0])
		}
	}
}

func testCleaner(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	clock := newClock()
	s := newStore(t, db, d, sqlstore.Options{Now: clock.Now})
	ctx := ctxT(t)
	const expired, live = 2345, 10
	put := func(label string, expires time.Time) {
		t.Helper()
		if _, err := s.Put(ctx, key(label), httpsession.Record{Data: []byte(label), Expires: expires}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range expired {
		put(fmt.Sprint("expired", i), clock.Now().Add(time.Minute))
	}
	for i := range live {
		put(fmt.Sprint("live", i), clock.Now().Add(time.Hour))
	}
	clock.Advance(2 * time.Minute)

	if n, err := s.DeleteExpired(ctx, 7); err != nil || n != 7 {
		t.Fatalf("DeleteExpired(7) = %d, %v; want 7", n, err)
	}
	// More than one batch.
	if n, err := s.DeleteExpired(ctx, 0); err != nil || n != expired-7 {
		t.Fatalf("DeleteExpired(0) = %d, %v; want %d", n, err, expired-7)
	}
	if n, err := s.DeleteExpired(ctx, -1); err != nil || n != 0 {
		t.Fatalf("DeleteExpired(-1) with nothing expired = %d, %v", n, err)
	}
	for i := range live {
		if _, err := s.Get(ctx, key(fmt.Sprint("live", i))); err != nil {
			t.Fatalf("live record %d after DeleteExpired: %v", i, err)
		}
	}
	var n int
	if err := s.List(ctx, func(string, httpsession.Record) bool { n++; return true }); err != nil || n != live {
		t.Fatalf("List after DeleteExpired saw %d records, %v; want %d", n, err, live)
	}
}

// testSweepDeadline calls DeleteExpired with deadlines that end at random
// points of the sweep: each call reports exactly the rows that went,
// never 0 when some did.
func testSweepDeadline(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	clock := newClock()
	table := fmt.Sprintf("hs_sweep_%s_%d", tableRun, tableSeq.Add(1))
	t.Cleanup(func() { _, _ = db.Exec("DROP TABLE IF EXISTS " + table) })
	s := newStore(t, db, d, sqlstore.Options{Now: clock.Now, Table: table})
	ctx := ctxT(t)
	const expired = 3000
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < expired; i += 8 {
				if _, err := s.Put(ctx, key(fmt.Sprint("sweep", i)), httpsession.Record{Data: make([]byte, 100), Expires: clock.Now().Add(time.Minute)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	clock.Advance(2 * time.Minute)
	left := expired
	interrupted := 0
	for call := 0; left > 0 && call < 1000; call++ {
		// From already over to about a batch's time.
		dctx, cancel := context.WithTimeout(ctx, time.Duration(call%12)*time.Millisecond)
		n, err := s.DeleteExpired(dctx, 0)
		cancel()
		now := countRows(t, db, table, "")
		if n != left-now {
			t.Fatalf("call %d: DeleteExpired = %d, %v; but %d rows went (%d -> %d)", call, n, err, left-now, left, now)
		}
		if err != nil {
			interrupted++
		} else if now != 0 {
			t.Fatalf("call %d: DeleteExpired = %d, nil, and left %d expired rows", call, n, now)
		}
		left = now
	}
	if left != 0 {
		t.Fatalf("%d expired rows left after 1000 calls", left)
	}
	t.Logf("%d calls were cut short by their deadline; every count was exact", interrupted)
}

// clock is a settable time source for Options.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

// newClock starts years away from the real time, so that the tests show
// that only Options.Now decides expiry.
func newClock() *clock { return &clock{now: time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func testClock(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	clock := newClock()
	s := newStore(t, db, d, sqlstore.Options{Now: clock.Now})
	ctx := ctxT(t)
	k := key("a")
	expires := clock.Now().Add(time.Minute + 500*time.Microsecond)
	v, err := s.Put(ctx, k, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	// Expires is rounded up to the millisecond: never early.
	clock.Advance(time.Minute)
	if _, err := s.Get(ctx, k); err != nil {
		t.Fatalf("Get 0.5 ms before Expires: %v", err)
	}
	clock.Advance(time.Millisecond)
	if _, err := s.Get(ctx, k); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Get 0.5 ms after Expires: %v, want ErrNotFound", err)
	}
	if err := s.Touch(ctx, k, clock.Now().Add(time.Hour)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Touch after expiry: %v, want ErrNotFound", err)
	}
	if _, err := s.Put(ctx, k, httpsession.Record{Data: []byte("y"), Expires: clock.Now().Add(time.Hour), Version: v}); !errors.Is(err, httpsession.ErrConflict) {
		t.Fatalf("update after expiry: %v, want ErrConflict", err)
	}
	if keys, err := s.OwnerKeys(ctx, "u1"); err != nil || len(keys) != 0 {
		t.Fatalf("OwnerKeys after expiry = %v, %v", keys, err)
	}
	if _, err := s.Put(ctx, k, httpsession.Record{Data: []byte("z"), Expires: clock.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("create over the expired record: %v", err)
	}
}

// testTouchSameExpiry checks that a Touch to the expiry a record already
// has succeeds: MySQL reports such an UPDATE as changing no row.
func testTouchSameExpiry(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	s := newStore(t, db, d, sqlstore.Options{})
	ctx := ctxT(t)
	k := key("a")
	expires := time.Now().Add(time.Hour)
	v, err := s.Put(ctx, k, httpsession.Record{Data: []byte("x"), Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := s.Touch(ctx, k, expires); err != nil {
			t.Fatalf("Touch %d to the same expiry: %v", i, err)
		}
	}
	if rec, err := s.Get(ctx, k); err != nil || rec.Version != v {
		t.Fatalf("Get after Touch = version %d, %v; want %d", rec.Version, err, v)
	}
}

func testLimits(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	s := newStore(t, db, d, sqlstore.Options{MaxRecordSize: 100})
	ctx := ctxT(t)
	exp := time.Now().Add(time.Hour)

	long := strings.Repeat("k", sqlstore.MaxKeyLen)
	v, err := s.Put(ctx, long, httpsession.Record{Data: []byte("x"), Owner: strings.Repeat("o", sqlstore.MaxOwnerLen), Expires: exp})
	if err != nil {
		t.Fatalf("Put with a key and owner at their limits: %v", err)
	}
	if rec, err := s.Get(ctx, long); err != nil || rec.Version != v {
		t.Fatalf("Get of the longest key = %d, %v", rec.Version, err)
	}

	_, err = s.Put(ctx, key("owner"), httpsession.Record{Data: []byte("x"), Owner: strings.Repeat("o", sqlstore.MaxOwnerLen+1), Expires: exp})
	if !errors.Is(err, httpsession.ErrTooLarge) {
		t.Errorf("Put with a long owner: %v, want ErrTooLarge", err)
	}
	for _, bad := range []string{"", long + "k", "nul\x00key", "\xff\xfe"} {
		if _, err := s.Put(ctx, bad, httpsession.Record{Data: []byte("x"), Expires: exp}); err == nil {
			t.Errorf("Put with key %q succeeded", bad)
		}
		if _, err := s.Get(ctx, bad); !errors.Is(err, httpsession.ErrNotFound) {
			t.Errorf("Get of key %q: %v, want ErrNotFound", bad, err)
		}
		if err := s.Touch(ctx, bad, exp); !errors.Is(err, httpsession.ErrNotFound) {
			t.Errorf("Touch of key %q: %v, want ErrNotFound", bad, err)
		}
		if err := s.Delete(ctx, bad); err != nil {
			t.Errorf("Delete of key %q: %v", bad, err)
		}
	}
	if _, err := s.Put(ctx, key("owner"), httpsession.Record{Data: []byte("x"), Owner: "a\x00b", Expires: exp}); err == nil {
		t.Error("Put with a NUL byte in the owner succeeded")
	}
}

func testDefaultMaxRecordSize(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	s := newStore(t, db, d, sqlstore.Options{})
	ctx := ctxT(t)
	data := bytes.Repeat([]byte{0, 1, 2, 0xff}, sqlstore.DefaultMaxRecordSize/4)
	k := key("big")
	if _, err := s.Put(ctx, k, httpsession.Record{Data: data, Owner: "u1", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Put of DefaultMaxRecordSize bytes: %v", err)
	}
	rec, err := s.Get(ctx, k)
	if err != nil || !bytes.Equal(rec.Data, data) {
		t.Fatalf("Get of DefaultMaxRecordSize bytes: %d bytes, %v", len(rec.Data), err)
	}
	_, err = s.Put(ctx, k, httpsession.Record{Data: append(data, 0), Expires: time.Now().Add(time.Hour), Version: rec.Version})
	if !errors.Is(err, httpsession.ErrTooLarge) {
		t.Fatalf("Put of DefaultMaxRecordSize+1 bytes: %v, want ErrTooLarge", err)
	}
}

func testCreateTableTwice(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	s := newStore(t, db, d, sqlstore.Options{})
	ctx := ctxT(t)
	if _, err := s.Put(ctx, key("a"), httpsession.Record{Data: []byte("kept"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTable(ctx); err != nil {
		t.Fatalf("CreateTable on an existing table: %v", err)
	}
	if rec, err := s.Get(ctx, key("a")); err != nil || string(rec.Data) != "kept" {
		t.Fatalf("Get after a second CreateTable = %q, %v", rec.Data, err)
	}
}

// testListPages lists more records than one page holds, deleting some as
// it goes.
func testListPages(t *testing.T, d sqlstore.Dialect, db *sql.DB) {
	s := newStore(t, db, d, sqlstore.Options{})
	ctx := ctxT(t)
	const n = 700
	want := map[string]bool{}
	for i := range n {
		k := key(fmt.Sprint("list", i))
		want[k] = true
		if _, err := s.Put(ctx, k, httpsession.Record{Data: []byte{byte(i)}, Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	prev := ""
	err := s.List(ctx, func(k string, _ httpsession.Record) bool {
		if k <= prev {
			t.Fatalf("List passed %s after %s", k, prev)
		}
		prev = k
		if !want[k] {
			t.Errorf("List passed unknown or repeated key %s", k)
		}
		delete(want, k)
		if len(want)%3 == 0 {
			if err := s.Delete(ctx, k); err != nil {
				t.Error(err)
			}
		}
		return true
	})
	if err != nil || len(want) != 0 {
		t.Fatalf("List: %v; %d keys missed", err, len(want))
	}
}

// testKillRestart kills the database server srv behind db and starts it
// again. While it is down every call fails with ErrUnavailable and the
// driver's own error; after the restart every record is there.
func testKillRestart(t *testing.T, d sqlstore.Dialect, srv *testservice.Server, db *sql.DB) {
	s := newStore(t, db, d, sqlstore.Options{})
	ctx := ctxT(t)
	versions := map[string]uint64{}
	for i := range 20 {
		k := key(fmt.Sprint("durable", i))
		v, err := s.Put(ctx, k, httpsession.Record{Data: fmt.Appendf(nil, "%d", i), Expires: time.Now().Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		versions[k] = v
	}

	srv.Kill()
	// The first call on each pooled connection may fail on the dead
	// socket, later ones on the refused dial: all of them are unavailable.
	// Behind PgBouncer a call waits for a server connection until its
	// deadline, which is short here: a timeout is unavailable too.
	down := func() context.Context {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	for i := range 2 {
		_, getErr := s.Get(down(), key("durable0"))
		_, putErr := s.Put(down(), key(fmt.Sprint("down", i)), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
		touchErr := s.Touch(down(), key("durable1"), time.Now().Add(time.Hour))
		delErr := s.Delete(down(), key("durable2"))
		_, sweepErr := s.DeleteExpired(down(), 0)
		pingErr := s.Ping(down())
		for op, err := range map[string]error{"Get": getErr, "Put": putErr, "Touch": touchErr, "Delete": delErr, "DeleteExpired": sweepErr, "Ping": pingErr} {
			if !errors.Is(err, httpsession.ErrUnavailable) {
				t.Fatalf("%s %d while the server is down: %v, want ErrUnavailable", op, i, err)
			}
			// The driver's error stays in the chain, after the sentinel.
			if _, drv, _ := strings.Cut(err.Error(), httpsession.ErrUnavailable.Error()+": "); drv == "" {
				t.Fatalf("%s while the server is down: %q hides the driver's error", op, err)
			}
		}
		if i == 0 {
			t.Logf("Get while the server is down: %v", getErr)
		}
	}
	srv.Restart()

	// database/sql drops the dead connections and opens new ones; a call
	// that was already on a dead connection may fail once. The kill and
	// the restart may have used up ctx on a loaded machine: start afresh.
	ctx = ctxT(t)
	deadline := time.Now().Add(callTimeout)
	for {
		_, err := s.Get(ctx, key("durable0"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Get still fails %v after the restart: %v", callTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for k, v := range versions {
		rec, err := s.Get(ctx, k)
		if err != nil || rec.Version != v {
			t.Fatalf("after the restart, Get(%.8s) = version %d, %v; want %d", k, rec.Version, err, v)
		}
		if _, err := s.Put(ctx, k, httpsession.Record{Data: []byte("after"), Expires: time.Now().Add(time.Hour), Version: v}); err != nil {
			t.Fatalf("Put after the restart: %v", err)
		}
	}
}

// testServerTooLarge gives MariaDB a record over its max_allowed_packet
// (16 MiB by default), which the store's own limit lets through.
func testServerTooLarge(t *testing.T, db *sql.DB) {
	var maxPacket int
	if err := db.QueryRow("SELECT @@max_allowed_packet").Scan(&maxPacket); err != nil {
		t.Fatal(err)
	}
	s := newStore(t, db, sqlstore.MySQL, sqlstore.Options{MaxRecordSize: 4 * maxPacket})
	ctx := ctxT(t)
	_, err := s.Put(ctx, key("huge"), httpsession.Record{Data: make([]byte, maxPacket+1), Expires: time.Now().Add(time.Hour)})
	t.Logf("Put of %d bytes: %v", maxPacket+1, err)
	if !errors.Is(err, httpsession.ErrTooLarge) {
		t.Fatalf("Put of max_allowed_packet+1 = %d bytes: %v, want ErrTooLarge", maxPacket+1, err)
	}
	if _, err := s.Get(ctx, key("huge")); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Get after a too large Put: %v, want ErrNotFound", err)
	}
	if _, err := s.Put(ctx, key("small"), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Put after a too large Put: %v", err)
	}
}

func TestNewRejectsTableNames(t *testing.T) {
	db := openSQLite(t)
	if _, err := db.Exec(`CREATE TABLE y (a INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"x; DROP TABLE y",
		"x;DROP TABLE y--",
		`x" ; DROP TABLE y; --`,
		"x` ; DROP TABLE y; --",
		"y'",
		"1abc",
		"a-b",
		"a.b",
		"a b",
		"sessions\x00",
		"séances",
		strings.Repeat("a", 64),
	} {
		s, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.SQLite, Table: name, AutoCreate: true})
		if err == nil || s != nil {
			t.Errorf("New with table %q = %v, %v; want nil and an error", name, s, err)
		} else if !strings.Contains(err.Error(), "invalid table name") {
			t.Errorf("New with table %q: %v, want an invalid table name error", name, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("after the rejected names the database has %d objects, %v; want table y alone", n, err)
	}
	for _, name := range []string{"_", "a", "Sessions_2", "select", strings.Repeat("a", 63)} {
		s, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.SQLite, Table: name, AutoCreate: true})
		if err != nil {
			t.Errorf("New with table %q: %v", name, err)
			continue
		}
		if _, err := s.Put(t.Context(), key("a"), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}); err != nil {
			t.Errorf("Put to table %q: %v", name, err)
		}
		s.Close()
	}
}

func TestNewErrors(t *testing.T) {
	db := openSQLite(t)
	for _, tc := range []struct {
		name string
		db   *sql.DB
		opts sqlstore.Options
		want string
	}{
		{"NilDB", nil, sqlstore.Options{Dialect: sqlstore.SQLite}, "nil"},
		{"NoDialect", db, sqlstore.Options{}, "Dialect is not set"},
		{"UnknownDialect", db, sqlstore.Options{Dialect: "oracle"}, "unknown dialect"},
		{"NegativeMax", db, sqlstore.Options{Dialect: sqlstore.SQLite, MaxRecordSize: -1}, "MaxRecordSize"},
		{"Unreachable", openDB(t, "pgx", "postgres://nobody@"+closedAddr(t)+"/x?sslmode=disable&connect_timeout=2"), sqlstore.Options{Dialect: sqlstore.Postgres}, "cannot reach the postgres database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := sqlstore.New(tc.db, tc.opts)
			if err == nil || s != nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want nil and an error containing %q", s, err, tc.want)
			}
		})
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNoTable(t *testing.T) {
	db := openSQLite(t)
	s, err := sqlstore.New(db, sqlstore.Options{Dialect: sqlstore.SQLite, Table: "missing"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Get(t.Context(), key("a"))
	if err == nil || errors.Is(err, httpsession.ErrNotFound) || !strings.HasPrefix(err.Error(), "sqlstore: get: ") {
		t.Fatalf("Get without a table: %v, want a wrapped database error", err)
	}
	if err := s.CreateTable(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), key("a")); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Get after CreateTable: %v, want ErrNotFound", err)
	}
}

func TestClosed(t *testing.T) {
	s := newStore(t, openSQLite(t), sqlstore.SQLite, sqlstore.Options{})
	s.Close()
	if _, err := s.Get(t.Context(), key("a")); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("Get after Close: %v, want an error", err)
	}
}

// TestSQLiteBusy holds SQLite's write lock longer than the store's
// connection waits for it: the write fails as unavailable, a retry later
// may succeed, and nothing was written.
func TestSQLiteBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	db := openDB(t, "sqlite", "file:"+path+"?"+sqlstore.SQLiteParams+"&_pragma=busy_timeout(50)")
	s := newStore(t, db, sqlstore.SQLite, sqlstore.Options{})
	other := openDB(t, "sqlite", "file:"+path+"?"+sqlstore.SQLiteParams)
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(ctxT(t), key("a"), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
	if !errors.Is(err, httpsession.ErrUnavailable) {
		t.Fatalf("Put while another connection writes: %v, want ErrUnavailable", err)
	}
	t.Logf("Put while another connection writes: %v", err)
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctxT(t), key("a")); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Get after the failed Put: %v, want ErrNotFound", err)
	}
}
