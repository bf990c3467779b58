package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// SQLite keeps session data in the database file and, until a checkpoint
// copies it there, in the write-ahead log beside it; its shared-memory
// file indexes the log. SQLite makes the -wal and -shm files with the
// permissions of the database file, so a database file made 0600 keeps all
// three private.

const (
	// walCheckpointBytes is the size of the write-ahead log past which the
	// store's checkpointer copies the log into the database and truncates
	// it. SQLite's own checkpoints after a commit (wal_autocheckpoint,
	// 1000 pages) are PASSIVE: under concurrent writers and readers they
	// never catch up with the end of the log, and the log only starts again
	// from its beginning when one does, so it grows without bound.
	walCheckpointBytes = 8 << 20
	// walSweepWaitBytes is the size of the log past which DeleteExpired
	// stops to truncate it itself rather than leave it to the
	// checkpointer, which copies the log while the sweep goes on but may
	// fall behind it on a slow disk or a busy machine.
	walSweepWaitBytes = 2 * walCheckpointBytes
	// walCheckEvery is how often the checkpointer looks at the log's size
	// when nothing kicks it; the store's writes kick it every walKickWrites
	// writes, and each batch of the sweep.
	walCheckEvery = time.Second
	walKickWrites = 64
	// walTimeout bounds one truncation, walBusy the time it waits, with the
	// store's statements held back, for the writers and readers of other
	// processes (SQLite's busy_timeout on its connection).
	walTimeout = 5 * time.Second
	walBusy    = 100 * time.Millisecond
	// walHold bounds the last step of a truncation, which holds the
	// store's statements back: the wait for a connection (another user of
	// the *sql.DB may hold the last one) and the checkpoint itself.
	walHold = time.Second
)

// SQLiteDSN returns the data source name that opens the SQLite database
// file at path with modernc.org/sqlite for a Store: "file:" + path + "?" +
// SQLiteParams. If the file does not exist it creates it, empty, with mode
// 0600, so that the database and the -wal and -shm files SQLite makes
// beside it are readable by the owner alone, whatever the umask; an
// existing file, and its -wal and -shm, readable or writable by others are
// made 0600. New does the same to a database opened otherwise, right after
// SQLite has created it.
//
//	dsn, err := sqlstore.SQLiteDSN("/var/lib/app/sessions.db")
//	// handle err
//	db, err := sql.Open("sqlite", dsn)
func SQLiteDSN(path string) (string, error) {
	if path == "" {
		return "", errors.New("sqlstore: SQLiteDSN needs a file path")
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return "", fmt.Errorf("sqlstore: %w", err)
		}
	case !errors.Is(err, fs.ErrExist):
		return "", fmt.Errorf("sqlstore: create the SQLite database: %w", err)
	}
	if err := privateSQLiteFiles(path); err != nil {
		return "", err
	}
	return "file:" + path + "?" + SQLiteParams, nil
}

// privateSQLiteFiles makes the database file at path, and its -wal and
// -shm files where they exist, 0600 if others may read or write them.
func privateSQLiteFiles(path string) error {
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlstore: %w", err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, fi.Mode().Perm()&0o700); err != nil {
			return fmt.Errorf("sqlstore: make the SQLite database private: %w", err)
		}
	}
	return nil
}

// sqliteFile returns the path of db's main database file, "" for an
// in-memory or temporary database.
func sqliteFile(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, "PRAGMA database_list")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			seq        int
			name, file string
		)
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return "", err
		}
		if name == "main" {
			return file, nil
		}
	}
	return "", rows.Err()
}

// wrote counts a write and, every walKickWrites writes, wakes the
// checkpointer to look at the log.
func (s *Store) wrote() {
	if s.walWrites.Add(1)%walKickWrites == 0 {
		s.kickWAL()
	}
}

// kickWAL wakes the checkpointer, unless it is awake already.
func (s *Store) kickWAL() {
	select {
	case s.walKick <- struct{}{}:
	default:
	}
}

// walSize returns the size of the write-ahead log file, 0 if it is
// missing.
func (s *Store) walSize() int64 {
	fi, err := os.Stat(s.wal)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// keepWAL is the checkpointer, a goroutine of each store on an SQLite
// file from New to Close. When the log passes walCheckpointBytes it
// truncates it (truncateWAL), off the path of requests: the log stays
// within a few MiB while writes run, rather than growing until the next
// sweep.
func (s *Store) keepWAL(ctx context.Context) {
	defer close(s.walDone)
	tick := time.NewTicker(walCheckEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.walKick:
		}
		if s.walSize() < walCheckpointBytes {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, walTimeout)
		_, _ = s.truncateWAL(cctx) // busy or failed: the next look tries again
		cancel()
	}
}

// truncateWAL copies every page of the write-ahead log into the database
// and truncates the log file to zero bytes, and reports whether readers
// or another process kept it from finishing (busy).
//
// A checkpoint copies pages as far as the oldest read mark in use, and a
// log starts over only once one has reached its end. PASSIVE checkpoints
// hold no one back but rarely get there: readers that overlap one another
// keep an old read mark in use, and writes go on. So it narrows down what
// is left in three steps:
//
//   - a PASSIVE checkpoint, holding no one back, copies most of the log;
//   - a second one runs while the sweep waits between two batches
//     (walMu), and copies what the sweep and requests wrote meanwhile;
//   - a TRUNCATE checkpoint holds logMu, which every other statement of
//     the store holds shared: for the milliseconds it takes to copy the
//     pages that requests wrote meanwhile and empty the log, the store's
//     requests wait, and no reader of this process holds an old mark.
//
// It waits at most walBusy for the writers and readers of other
// processes: a log it could not truncate is tried again at the next look.
// One truncation runs at a time (truncMu).
func (s *Store) truncateWAL(ctx context.Context) (busy bool, err error) {
	// One truncation at a time: a PASSIVE checkpoint that finds another
	// running returns busy at once, so a sweep that waits for the log
	// (afterSweepBatch) waits here for the checkpointer's round to end.
	s.truncMu.Lock()
	defer s.truncMu.Unlock()
	var b, logPages, done int64
	passive := func() error {
		return s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&b, &logPages, &done)
	}
	if err := passive(); err != nil {
		return false, err
	}
	// walMu, then logMu, then the connection: the store's statements hold
	// logMu shared while they wait for a connection.
	s.walMu.Lock()
	defer s.walMu.Unlock()
	if err := passive(); err != nil {
		return false, err
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, walHold)
	defer cancel()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer conn.Close()
	var old int64
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&old); err != nil {
		return false, err
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", walBusy.Milliseconds())); err != nil {
		return false, err
	}
	defer func() {
		// The connection goes back to the pool with its own busy_timeout,
		// or not at all.
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA busy_timeout = %d", old)); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	err = conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&b, &logPages, &done)
	return b != 0, err
}
