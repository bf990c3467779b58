package sqlstore

import (
	"context"
	"database/sql"
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
	// walMaxBytes is the size of the log file past which the store
	// checkpoints the log fully and truncates it. SQLite's own checkpoints
	// after a commit (wal_autocheckpoint, 1000 pages) are PASSIVE: under
	// concurrent writers and readers they may never catch up with the end
	// of the log, and the log only starts again from its beginning when one
	// does, so it grows without bound.
	walMaxBytes = 16 << 20
	// walTimeout bounds one truncation, walAttempts the checkpoints it tries.
	walTimeout  = 30 * time.Second
	walAttempts = 20
	// walHold bounds how long a truncation holds the store's writes back.
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

// truncateWAL copies every page of the write-ahead log into the database
// and truncates the log file to zero bytes, and reports whether it could
// not finish (busy).
//
// The checkpoint needs SQLite's writer lock, which SQLite's busy handler
// waits for by polling: under a steady stream of writes it starves, for
// seconds, while the log keeps growing. So the store's own writes wait on
// walMu while it runs; it then waits (up to busy_timeout) only for writers
// of other processes and for readers of older snapshots, which takes
// milliseconds. A checkpoint that another process runs makes SQLite give
// up at once, without the busy handler: it tries again, a few times.
func (s *Store) truncateWAL(ctx context.Context) (busy bool, err error) {
	// Copy what can be copied without holding anyone back first, so that
	// the writes wait only for the rest.
	var b0, l0, d0 int64
	_ = s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&b0, &l0, &d0)
	s.walMu.Lock()
	defer s.walMu.Unlock()
	// The store's writes wait meanwhile: a second at most, then the
	// checkpoint is interrupted and the next check tries again.
	ctx, cancel := context.WithTimeout(ctx, walHold)
	defer cancel()
	for attempt := 0; ; attempt++ {
		if s.closed.Load() {
			return false, errClosed
		}
		var b, logPages, done int64
		err = s.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&b, &logPages, &done)
		if err != nil || b == 0 || attempt == walAttempts-1 {
			return b != 0, err
		}
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 5 * time.Millisecond):
		}
	}
}
