package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/sqlstore"
)

// withUmask runs fn with the process's umask set to mask. Not for parallel
// tests: the umask is the process's.
func withUmask(mask int, fn func()) {
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	fn()
}

// modes returns the permission bits of the database at path and of its
// -wal and -shm files ("-" for a missing file).
func modes(path string) [3]string {
	var out [3]string
	for i, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			out[i] = "-"
			continue
		}
		out[i] = fmt.Sprintf("%#o", fi.Mode().Perm())
	}
	return out
}

// TestSQLitePrivateFiles checks that under umask 022 the database, -wal and
// -shm files are 0600: made by SQLiteDSN, made by SQLite and tightened by
// New, and left 0644 by an older version.
func TestSQLitePrivateFiles(t *testing.T) {
	withUmask(0o022, func() {
		dir := t.TempDir()
		write := func(t *testing.T, s *sqlstore.Store) {
			t.Helper()
			for i := range 20 {
				if _, err := s.Put(ctxT(t), key(fmt.Sprint(i)), httpsession.Record{Data: []byte("secret flash text"), Expires: time.Now().Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
		}
		check := func(t *testing.T, path string) {
			t.Helper()
			if got := modes(path); got != [3]string{"0600", "0600", "0600"} {
				t.Fatalf("database, -wal, -shm modes = %v, want 0600 each", got)
			}
		}
		t.Run("SQLiteDSN", func(t *testing.T) {
			path := filepath.Join(dir, "dsn.db")
			dsn, err := sqlstore.SQLiteDSN(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := modes(path); got[0] != "0600" {
				t.Fatalf("SQLiteDSN made the database %s, want 0600", got[0])
			}
			s := newStore(t, openDB(t, "sqlite", dsn), sqlstore.SQLite, sqlstore.Options{})
			write(t, s)
			check(t, path)
		})
		t.Run("New", func(t *testing.T) {
			path := filepath.Join(dir, "new.db")
			s := newStore(t, openDB(t, "sqlite", "file:"+path+"?"+sqlstore.SQLiteParams), sqlstore.SQLite, sqlstore.Options{})
			write(t, s)
			check(t, path)
		})
		t.Run("Existing", func(t *testing.T) {
			path := filepath.Join(dir, "old.db")
			old := openDB(t, "sqlite", "file:"+path+"?"+sqlstore.SQLiteParams)
			if _, err := old.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				if err := os.Chmod(p, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := sqlstore.SQLiteDSN(path); err != nil {
				t.Fatal(err)
			}
			check(t, path)
		})
	})
}

// TestSQLiteWALBounded makes 5,000 new sessions from 4 writers while 4
// readers keep reading: SQLite's own checkpoints cannot catch up with the
// end of the log then (it grew to 48-73 MB in this test before the store
// had a checkpointer). A sampler watches the log's size all along, and the
// test fails if it ever passes 32 MB; the janitor's DeleteExpired then
// truncates it to 0.
func TestSQLiteWALBounded(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	dsn, err := sqlstore.SQLiteDSN(path)
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(t, openDB(t, "sqlite", dsn), sqlstore.SQLite, sqlstore.Options{})
	const (
		sessions = 5000
		writers  = 4
		readers  = 4
		limit    = 32 << 20
	)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	var (
		next, maxWAL atomic.Int64
		done         = make(chan struct{})
		wg, rg       sync.WaitGroup
		latMu        sync.Mutex
		lat          []time.Duration
	)
	rg.Go(func() { // the sampler
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			maxWAL.Store(max(maxWAL.Load(), walSize()))
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	data := make([]byte, 600) // a session of a logged-in user with a cart
	for range writers {
		wg.Go(func() {
			var mine []time.Duration
			defer func() {
				latMu.Lock()
				lat = append(lat, mine...)
				latMu.Unlock()
			}()
			for {
				i := next.Add(1)
				if i > sessions || ctx.Err() != nil {
					return
				}
				start := time.Now()
				if _, err := s.Put(ctx, key(fmt.Sprint("s", i)), httpsession.Record{Data: data, Owner: fmt.Sprint("u", i%100), Expires: time.Now().Add(time.Hour)}); err != nil {
					t.Errorf("Put %d: %v", i, err)
					return
				}
				mine = append(mine, time.Since(start))
			}
		})
	}
	for r := range readers {
		rg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				_, _ = s.Get(ctx, key(fmt.Sprint("s", (i*readers+r)%sessions)))
			}
		})
	}
	start := time.Now()
	wg.Wait()
	took := time.Since(start)
	maxWAL.Store(max(maxWAL.Load(), walSize()))
	close(done)
	rg.Wait()
	slices.Sort(lat)
	if len(lat) == 0 {
		t.Fatal("no Put succeeded")
	}
	t.Logf("%d sessions in %v: largest WAL %.1f MB, at the end %.1f MB; Put p50 %v, p99 %v, max %v",
		len(lat), took.Round(time.Millisecond), float64(maxWAL.Load())/1e6, float64(walSize())/1e6,
		lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
	if n := maxWAL.Load(); n > limit {
		t.Errorf("the WAL reached %.1f MB while the sessions were written, want at most %.1f MB", float64(n)/1e6, float64(limit)/1e6)
	}
	if _, err := s.DeleteExpired(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if n := walSize(); n != 0 {
		t.Errorf("after the janitor's DeleteExpired the WAL is %d bytes, want 0 (truncated)", n)
	}
}

// TestSQLiteSweepWALBounded sweeps 12,000 expired sessions, as the
// Manager's janitor does, while readers keep reading live ones. A sampler
// watches the log, and the test fails if it ever passes 32 MB, if a call
// fails, if a live session cannot be read, or if the count reported is
// not what went. (Without the checkpointer the log reached 19-27 MB here:
// with a single writer SQLite's own checkpoints catch up now and then.
// TestSQLiteWALBounded is the one they fail.)
func TestSQLiteSweepWALBounded(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	dsn, err := sqlstore.SQLiteDSN(path)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, "sqlite", dsn)
	const (
		table   = "sessions"
		expired = 12000
		live    = 100
		limit   = 32 << 20
	)
	s := newStore(t, db, sqlstore.SQLite, sqlstore.Options{Table: table})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 256)
	for i := range expired + live {
		exp := time.Now().Add(-time.Duration(1+i%3600) * time.Second) // spread over the table
		if i >= expired {
			exp = time.Now().Add(time.Hour)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO "sessions" ("key", "data", "expires", "version", "owner") VALUES (?, ?, ?, 1, NULL)`,
			key(fmt.Sprint("k", i)), data, exp.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		t.Fatal(err)
	}

	var (
		maxWAL atomic.Int64
		done   = make(chan struct{})
		rg     sync.WaitGroup
	)
	rg.Go(func() { // the sampler
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if fi, err := os.Stat(path + "-wal"); err == nil {
				maxWAL.Store(max(maxWAL.Load(), fi.Size()))
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	for r := range 3 {
		rg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.Get(ctx, key(fmt.Sprint("k", expired+(i*3+r)%live))); err != nil {
					t.Errorf("Get of a live session during the sweep: %v", err)
					return
				}
			}
		})
	}
	deleted, calls := 0, 0
	for ; calls < 1000; calls++ {
		n, err := s.DeleteExpired(ctx, 1000)
		deleted += n
		if err != nil {
			t.Errorf("DeleteExpired after %d deleted: %v", deleted, err)
			break
		}
		if n < 1000 {
			break
		}
	}
	close(done)
	rg.Wait()
	left := countRows(t, db, `"sessions"`, "")
	t.Logf("%d calls deleted %d sessions; largest WAL %.1f MB", calls+1, deleted, float64(maxWAL.Load())/1e6)
	if deleted != expired || left != live {
		t.Errorf("the sweep reported %d deleted and left %d rows; want %d and %d", deleted, left, expired, live)
	}
	if n := maxWAL.Load(); n > limit {
		t.Errorf("the WAL reached %.1f MB during the sweep, want at most %.1f MB", float64(n)/1e6, float64(limit)/1e6)
	}
}

// TestSQLiteWritersTakeTurns runs 16 writers against one SQLite file with a
// busy_timeout of 1 ms: were the store's writers to meet in SQLite's busy
// handler, some would get SQLITE_BUSY at once. The store queues them
// itself, so none may.
func TestSQLiteWritersTakeTurns(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	dsn := "file:" + path + "?_pragma=busy_timeout(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	s := newStore(t, openDB(t, "sqlite", dsn), sqlstore.SQLite, sqlstore.Options{})
	const writers, each = 16, 100
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var (
		wg     sync.WaitGroup
		failed atomic.Int32
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				key := fmt.Sprintf("k%02d%04d", w, i)
				rec := httpsession.Record{Data: []byte("some session data"), Expires: time.Now().Add(time.Hour)}
				v, err := s.Put(ctx, key, rec)
				if err == nil {
					rec.Version = v
					_, err = s.Put(ctx, key, rec)
				}
				if err != nil {
					if failed.Add(1) <= 5 {
						t.Errorf("writer %d, put %d: %v", w, i, err)
					}
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSQLiteSweepKeepsAutoCheckpoint sweeps on a pool of one connection
// opened with wal_autocheckpoint(500): DeleteExpired turns SQLite's own
// checkpoint off on the connection while its batches run, and must give
// the connection back to the pool with 500.
func TestSQLiteSweepKeepsAutoCheckpoint(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sessions.db")
	dsn, err := sqlstore.SQLiteDSN(path)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, "sqlite", dsn+"&_pragma=wal_autocheckpoint(500)")
	db.SetMaxOpenConns(1)
	clock := newClock()
	s := newStore(t, db, sqlstore.SQLite, sqlstore.Options{Now: clock.Now})
	ctx := ctxT(t)
	const n = 600 // three batches, the last one short
	for i := range n {
		if _, err := s.Put(ctx, key(fmt.Sprint("e", i)), httpsession.Record{Data: []byte("x"), Expires: clock.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Hour)
	got, err := s.DeleteExpired(ctx, 0)
	if err != nil || got != n {
		t.Fatalf("DeleteExpired = %d, %v; want %d, nil", got, err, n)
	}
	var pages int
	if err := db.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages != 500 {
		t.Errorf("wal_autocheckpoint after the sweep = %d, want 500", pages)
	}
}
