package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/httpsession/httpsession"
)

// Defaults and limits.
const (
	// DefaultTable is the table a Store uses when Options.Table is empty.
	DefaultTable = "httpsession_sessions"
	// DefaultMaxRecordSize is the largest Record.Data a Store accepts when
	// Options.MaxRecordSize is 0: 8 MiB, which fits in the default
	// max_allowed_packet of MariaDB (16 MiB) and MySQL 8 (64 MiB), not in
	// MySQL 5.7's (4 MiB).
	DefaultMaxRecordSize = 8 << 20
	// MaxKeyLen is the longest key a Store accepts, in bytes. The
	// Manager's keys are 64 bytes.
	MaxKeyLen = 255
	// MaxOwnerLen is the longest Record.Owner a Store accepts, in bytes.
	MaxOwnerLen = 255
	// SQLiteParams is the DSN query to open an SQLite database with
	// modernc.org/sqlite for a Store: wait up to 5 s for a writer instead of
	// failing with "database is locked", write-ahead logging, fsync at
	// checkpoints rather than at every commit, and cut the log file back
	// to 8 MiB when it starts again after a checkpoint (without a limit it
	// keeps the largest size it ever had). SQLiteDSN returns it with the
	// file path, after making the file private:
	//
	//	sql.Open("sqlite", "file:/var/lib/app/sessions.db?"+sqlstore.SQLiteParams)
	SQLiteParams = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=journal_size_limit(8388608)"
)

const (
	// setupTimeout bounds the ping and the table creation of New.
	setupTimeout = 10 * time.Second
	// List reads a page of at most listPageRows records, and stops a page
	// early once it holds listPageBytes of data.
	listPageRows  = 256
	listPageBytes = 4 << 20
	// sweepBatch is the most rows one DELETE of DeleteExpired removes,
	// each in a transaction of its own; sqliteSweepBatch on SQLite, whose
	// one writer holds back every other write while a batch runs.
	sweepBatch       = 1000
	sqliteSweepBatch = 250
	// sweepBatchTimeout bounds one batch of DeleteExpired, which runs to
	// its end even when the caller's context ends.
	sweepBatchTimeout = 10 * time.Second
	// createAttempts bounds the retries of a create that MySQL chose as a
	// deadlock victim.
	createAttempts = 5
)

// Options configure a Store. Dialect is required; the zero value of every
// other field gives its default.
type Options struct {
	// Dialect is the database behind the *sql.DB: Postgres, MySQL or
	// SQLite. It is required.
	Dialect Dialect
	// Table is the name of the sessions table. It must match
	// [A-Za-z_][A-Za-z0-9_]{0,62}; it is used quoted, so its case is kept.
	// The default value is DefaultTable.
	Table string
	// AutoCreate makes New call CreateTable.
	AutoCreate bool
	// MaxRecordSize is the largest Record.Data that Put accepts, in bytes;
	// a larger one is ErrTooLarge and writes nothing. On MySQL and MariaDB
	// keep it below the server's max_allowed_packet. The default value is
	// DefaultMaxRecordSize.
	MaxRecordSize int
	// NoPreparedStatements makes the store send each statement as it is,
	// with the *sql.DB's QueryContext and ExecContext, instead of preparing
	// it once and keeping it until Close. Set it behind a pooler that gives
	// each transaction whichever server connection is free, such as
	// PgBouncer with pool_mode=transaction: a statement prepared on one
	// server connection is unknown to the others, and PgBouncer 1.18 fails
	// with "prepared statement ... already exists". With pgx, also put
	// default_query_exec_mode=exec (or simple_protocol) in the URL, so that
	// the driver makes no named statements of its own; store/open sets this
	// field when the URL asks for any mode but the default cache_statement.
	// The server then parses every statement anew: see the package README
	// for what that costs.
	NoPreparedStatements bool
	// Now returns the current time, against which records expire. Expiry
	// is decided by the clock of the program, never by the database's, so
	// it is the same in every dialect; programs that share a table should
	// keep their clocks synchronised. The default is time.Now.
	Now func() time.Time
}

// Store keeps session records in one SQL table. It implements
// httpsession.Store, Toucher, Lister, Cleaner, OwnerIndex and Pinger, and
// is safe for concurrent use by goroutines and by processes sharing the
// table.
type Store struct {
	db      *sql.DB
	dialect Dialect
	table   string
	sql     dialectSQL
	maxSize int
	now     func() time.Time

	// noPrepare sends statements unprepared; otherwise stmts are
	// prepared on first use and kept until Close.
	noPrepare bool
	stmts     [numQueries]atomic.Pointer[sql.Stmt]
	prepMu    sync.Mutex
	closed    atomic.Bool

	// SQLite: wal is the path of the write-ahead log ("" in memory),
	// which the checkpointer goroutine (keepWAL) bounds until Close stops
	// it. Every statement on the file but the sweep's holds logMu shared,
	// the checkpointer's truncation exclusive; a batch of the sweep holds
	// walMu, which the truncation takes first; truncMu lets one
	// truncation run at a time.
	walMu     sync.Mutex
	truncMu   sync.Mutex
	wal       string
	logMu     sync.RWMutex
	walWrites atomic.Uint32
	walKick   chan struct{}
	walStop   context.CancelFunc
	walDone   chan struct{}

	// writeTurn, on SQLite, lets one of the store's writing statements
	// run at a time. SQLite has one writer; without a queue of its own,
	// the store's writers wait for each other in SQLite's busy handler,
	// which polls with sleeps, and on a loaded machine one of them can
	// lose every poll until busy_timeout ends it with SQLITE_BUSY. A
	// channel's waiters are served in the order they came.
	writeTurn chan struct{}
}

var (
	_ httpsession.Store      = (*Store)(nil)
	_ httpsession.Toucher    = (*Store)(nil)
	_ httpsession.Lister     = (*Store)(nil)
	_ httpsession.Cleaner    = (*Store)(nil)
	_ httpsession.OwnerIndex = (*Store)(nil)
	_ httpsession.Pinger     = (*Store)(nil)
)

// errClosed is returned by the methods of a closed Store.
var errClosed = errors.New("store is closed")

// New returns a store on db, which the caller has opened with the driver
// of opts.Dialect and keeps open while the store is in use. New checks
// opts, pings the database and, with opts.AutoCreate, creates the table;
// it gives up after 10 seconds.
func New(db *sql.DB, opts Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: New needs a *sql.DB, got nil")
	}
	table := opts.Table
	if table == "" {
		table = DefaultTable
	}
	if !identifierOK(table) {
		return nil, fmt.Errorf("sqlstore: invalid table name %q: want a letter or _ followed by at most 62 letters, digits or _", table)
	}
	if opts.MaxRecordSize < 0 {
		return nil, errors.New("sqlstore: Options.MaxRecordSize must not be negative")
	}
	stmts, err := sqlFor(opts.Dialect, table)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:        db,
		dialect:   opts.Dialect,
		table:     table,
		sql:       stmts,
		maxSize:   opts.MaxRecordSize,
		now:       opts.Now,
		noPrepare: opts.NoPreparedStatements,
	}
	if s.maxSize == 0 {
		s.maxSize = DefaultMaxRecordSize
	}
	if s.now == nil {
		s.now = time.Now
	}

	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		if isUnavailable(err) {
			err = fmt.Errorf("%w: %w", httpsession.ErrUnavailable, err)
		}
		return nil, fmt.Errorf("sqlstore: cannot reach the %s database: %w", s.dialect, err)
	}
	switch s.dialect {
	case MySQL:
		if err := checkChangedRows(ctx, db); err != nil {
			return nil, err
		}
	case SQLite:
		s.writeTurn = make(chan struct{}, 1)
		// The ping made the file, with the umask's permissions.
		file, err := sqliteFile(ctx, db)
		if err == nil && file != "" {
			err = privateSQLiteFiles(file)
			s.wal = file + "-wal"
		}
		if err != nil {
			return nil, fmt.Errorf("sqlstore: %w", err)
		}
	}
	if opts.AutoCreate {
		if err := s.CreateTable(ctx); err != nil {
			return nil, err
		}
	}
	if s.wal != "" {
		var wctx context.Context
		wctx, s.walStop = context.WithCancel(context.Background())
		s.walKick = make(chan struct{}, 1)
		s.walDone = make(chan struct{})
		go s.keepWAL(wctx)
	}
	return s, nil
}

// checkChangedRows fails if the MySQL connection counts matched rows
// rather than changed ones (CLIENT_FOUND_ROWS, clientFoundRows=true in a
// go-sql-driver DSN): then a create that leaves a live row alone would
// look like one that inserted. It tries an upsert that changes nothing on
// a temporary table, and passes when it may not create one.
func checkChangedRows(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: cannot reach the mysql database: %w", err)
	}
	defer conn.Close()
	const probe = "httpsession_sqlstore_probe"
	if _, err := conn.ExecContext(ctx, "CREATE TEMPORARY TABLE "+probe+" (k INT PRIMARY KEY)"); err != nil {
		return nil // no privilege: the package documentation warns
	}
	defer func() { _, _ = conn.ExecContext(context.WithoutCancel(ctx), "DROP TEMPORARY TABLE "+probe) }()
	var n int64
	_, err = conn.ExecContext(ctx, "INSERT INTO "+probe+" VALUES (1)")
	if err == nil {
		var res sql.Result
		res, err = conn.ExecContext(ctx, "INSERT INTO "+probe+" VALUES (1) ON DUPLICATE KEY UPDATE k = k")
		if err == nil {
			n, err = res.RowsAffected()
		}
	}
	if err != nil {
		return fmt.Errorf("sqlstore: checking the mysql connection: %w", err)
	}
	if n != 0 {
		return errors.New("sqlstore: the mysql connection counts found rows, not changed rows: remove clientFoundRows=true from the DSN")
	}
	return nil
}

// CreateTable creates the table and its indexes unless they exist. It
// does not change a table that exists. The statements are in the package
// documentation, for those who manage the schema with migrations.
func (s *Store) CreateTable(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlstore: create table %s: %w", s.table, err)
	}
	defer func() { _ = tx.Rollback() }()
	if s.dialect == Postgres {
		// Concurrent CREATE TABLE IF NOT EXISTS can fail on PostgreSQL's
		// catalog; programs starting together take turns instead.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", tableLockID(s.table)); err != nil {
			return fmt.Errorf("sqlstore: create table %s: %w", s.table, err)
		}
	}
	for _, stmt := range s.sql.ddl {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("sqlstore: create table %s: %w", s.table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: create table %s: %w", s.table, err)
	}
	return nil
}

// tableLockID is the PostgreSQL advisory lock key that serialises
// CreateTable of one table.
func tableLockID(table string) int64 {
	var h uint64 = 14695981039346656037 // FNV-1a
	for _, c := range []byte("httpsession/sqlstore:" + table) {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return int64(h >> 1)
}

// Close releases the statements the store has prepared and, on an SQLite
// file, stops the goroutine that checkpoints its write-ahead log. It does
// not close the *sql.DB. Calls after Close fail. Close always returns nil.
func (s *Store) Close() error {
	if s.walStop != nil {
		s.walStop()
		<-s.walDone
	}
	s.prepMu.Lock()
	s.closed.Store(true)
	for i := range s.stmts {
		if st := s.stmts[i].Swap(nil); st != nil {
			_ = st.Close()
		}
	}
	s.prepMu.Unlock()
	return nil
}

// stmt returns the prepared statement q, preparing it on first use.
func (s *Store) stmt(ctx context.Context, q query) (*sql.Stmt, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	if st := s.stmts[q].Load(); st != nil {
		return st, nil
	}
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	if s.closed.Load() {
		return nil, errClosed
	}
	if st := s.stmts[q].Load(); st != nil {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, s.sql.q[q])
	if err != nil {
		return nil, err
	}
	s.stmts[q].Store(st)
	return st, nil
}

// exec runs q, a statement that writes, and returns the rows it affected.
func (s *Store) exec(ctx context.Context, q query, args ...any) (int64, error) {
	if s.wal != "" {
		s.logMu.RLock()
		defer s.logMu.RUnlock()
		defer s.wrote()
	}
	if err := s.takeWriteTurn(ctx); err != nil {
		return 0, err
	}
	defer s.endWriteTurn()
	var (
		res sql.Result
		err error
	)
	if s.noPrepare {
		if s.closed.Load() {
			return 0, errClosed
		}
		res, err = s.db.ExecContext(ctx, s.sql.q[q], args...)
	} else {
		var st *sql.Stmt
		if st, err = s.stmt(ctx, q); err != nil {
			return 0, err
		}
		res, err = st.ExecContext(ctx, args...)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (s *Store) query(ctx context.Context, q query, args ...any) (*sql.Rows, error) {
	if s.noPrepare {
		if s.closed.Load() {
			return nil, errClosed
		}
		return s.db.QueryContext(ctx, s.sql.q[q], args...)
	}
	st, err := s.stmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs q, which selects at most one row, and scans it into dest.
// No row is sql.ErrNoRows.
func (s *Store) queryRow(ctx context.Context, q query, args []any, dest ...any) error {
	if s.wal != "" {
		s.logMu.RLock()
		defer s.logMu.RUnlock()
	}
	if s.noPrepare {
		if s.closed.Load() {
			return errClosed
		}
		return s.db.QueryRowContext(ctx, s.sql.q[q], args...).Scan(dest...)
	}
	st, err := s.stmt(ctx, q)
	if err != nil {
		return err
	}
	return st.QueryRowContext(ctx, args...).Scan(dest...)
}

// Get returns the live record under key, or an error wrapping
// httpsession.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (httpsession.Record, error) {
	if checkKey(key) != nil {
		return httpsession.Record{}, fmt.Errorf("sqlstore: get: %w", httpsession.ErrNotFound)
	}
	var (
		rec              httpsession.Record
		expires, version int64
		owner            sql.NullString
	)
	err := s.queryRow(ctx, qGet, []any{key, s.nowMs()}, &rec.Data, &expires, &version, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return httpsession.Record{}, fmt.Errorf("sqlstore: get: %w", httpsession.ErrNotFound)
	}
	if err != nil {
		return httpsession.Record{}, fail("get", err)
	}
	rec.Expires = time.UnixMilli(expires)
	rec.Version = uint64(version)
	rec.Owner = owner.String
	return rec, nil
}

// Put writes rec under key if the stored version is rec.Version, and
// returns the new version.
//
// With rec.Version 0 it is one atomic statement that inserts the row, or
// replaces a row that has expired, and leaves a live row alone
// (ErrConflict); the new version is random. With another version it is an
// UPDATE of the live row with that version, which adds one to it; it never
// inserts. Data over the store's MaxRecordSize, or an Owner over
// MaxOwnerLen bytes, is ErrTooLarge and writes nothing.
func (s *Store) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	if err := checkKey(key); err != nil {
		return 0, fmt.Errorf("sqlstore: put: %w", err)
	}
	if len(rec.Data) > s.maxSize {
		return 0, fmt.Errorf("sqlstore: put: %d bytes of data, over the limit of %d: %w", len(rec.Data), s.maxSize, httpsession.ErrTooLarge)
	}
	if len(rec.Owner) > MaxOwnerLen {
		return 0, fmt.Errorf("sqlstore: put: owner of %d bytes, over the limit of %d: %w", len(rec.Owner), MaxOwnerLen, httpsession.ErrTooLarge)
	}
	if !textOK(rec.Owner) {
		return 0, errors.New("sqlstore: put: owner is not UTF-8 text without NUL bytes")
	}
	data := rec.Data
	if data == nil {
		data = []byte{} // NOT NULL: drivers send a nil slice as NULL
	}
	owner := sql.NullString{String: rec.Owner, Valid: rec.Owner != ""}
	expires := expiresMs(rec.Expires)
	now := s.nowMs()

	if rec.Version == 0 {
		return s.create(ctx, key, data, expires, owner, now)
	}
	if rec.Version > math.MaxInt64 {
		return 0, fmt.Errorf("sqlstore: put: %w", httpsession.ErrConflict) // never issued
	}
	n, err := s.exec(ctx, qUpdate, data, expires, owner, key, int64(rec.Version), now)
	if err != nil {
		return 0, fail("put", err)
	}
	if n == 0 {
		return 0, fmt.Errorf("sqlstore: put: %w", httpsession.ErrConflict)
	}
	return rec.Version + 1, nil
}

// create inserts the record under key, or replaces an expired one.
func (s *Store) create(ctx context.Context, key string, data []byte, expires int64, owner sql.NullString, now int64) (uint64, error) {
	// A random first version, rather than 1, keeps a writer that holds the
	// version of a deleted record from matching the record created next
	// under the same key. Below 2^62, it has room to grow.
	version := rand.Int64N(1<<62) + 1
	args := []any{key, data, expires, version, owner}
	for range s.sql.createNows {
		args = append(args, now)
	}
	var (
		n   int64
		err error
	)
	for attempt := 1; ; attempt++ {
		n, err = s.exec(ctx, qCreate, args...)
		// InnoDB may pick one of several concurrent upserts of a key as a
		// deadlock victim and roll it back; the statement is safe to rerun.
		if err == nil || attempt == createAttempts || !isDeadlock(err) {
			break
		}
	}
	if err != nil {
		return 0, fail("put", err)
	}
	if !s.sql.createWon(n) {
		return 0, fmt.Errorf("sqlstore: put: %w", httpsession.ErrConflict)
	}
	return uint64(version), nil
}

// Delete removes the record under key. Deleting a missing key is not an
// error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if checkKey(key) != nil {
		return nil
	}
	if _, err := s.exec(ctx, qDelete, key); err != nil {
		return fail("delete", err)
	}
	return nil
}

// Touch sets the expiry of the live record under key, and nothing else. A
// missing or expired record is ErrNotFound and is not created.
func (s *Store) Touch(ctx context.Context, key string, expires time.Time) error {
	if checkKey(key) != nil {
		return fmt.Errorf("sqlstore: touch: %w", httpsession.ErrNotFound)
	}
	now := s.nowMs()
	n, err := s.exec(ctx, qTouch, expiresMs(expires), key, now)
	if err != nil {
		return fail("touch", err)
	}
	if n == 0 && s.dialect == MySQL {
		// MySQL counts changed rows, not matched ones: a Touch to the
		// expiry the row already has reports 0.
		var one int
		err := s.queryRow(ctx, qExists, []any{key, now}, &one)
		switch {
		case err == nil:
			n = 1
		case !errors.Is(err, sql.ErrNoRows):
			return fail("touch", err)
		}
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: touch: %w", httpsession.ErrNotFound)
	}
	return nil
}

// List calls fn for each live record, in key order, until fn returns
// false. It reads the table in pages by key and calls fn between reads,
// holding no connection, so fn may use the store, Delete included.
// Records written while List runs may or may not be seen.
func (s *Store) List(ctx context.Context, fn func(key string, rec httpsession.Record) bool) error {
	after := ""
	for {
		page, more, err := s.listPage(ctx, after)
		if err != nil {
			return fail("list", err)
		}
		for _, e := range page {
			if !fn(e.key, e.rec) {
				return nil
			}
		}
		if !more {
			return nil
		}
		after = page[len(page)-1].key
	}
}

type listEntry struct {
	key string
	rec httpsession.Record
}

// listPage reads the live records after key `after`, up to the page
// bounds, and reports whether there may be more.
func (s *Store) listPage(ctx context.Context, after string) (page []listEntry, more bool, err error) {
	if s.wal != "" {
		s.logMu.RLock()
		defer s.logMu.RUnlock()
	}
	rows, err := s.query(ctx, qList, after, s.nowMs(), listPageRows)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	size := 0
	for rows.Next() {
		var (
			e                listEntry
			expires, version int64
			owner            sql.NullString
		)
		if err := rows.Scan(&e.key, &e.rec.Data, &expires, &version, &owner); err != nil {
			return nil, false, err
		}
		e.rec.Expires = time.UnixMilli(expires)
		e.rec.Version = uint64(version)
		e.rec.Owner = owner.String
		page = append(page, e)
		if size += len(e.key) + len(e.rec.Data); size >= listPageBytes {
			return page, true, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	return page, len(page) == listPageRows, nil
}

// DeleteExpired removes at most limit expired records, all of them if
// limit is 0 or less, and reports how many it removed. It deletes in
// batches of at most 1000 rows (250 on SQLite), each a transaction of its
// own, so no statement holds many locks for long. The count is exact even
// when ctx ends mid-way: a batch under way then runs to its end (they take
// milliseconds; 10 seconds at most) and counts, and no other starts.
//
// On SQLite its batches run with SQLite's automatic checkpoint off, so
// that no COMMIT of the sweep waits for the disk: after each batch it
// wakes the store's checkpointer, which copies the write-ahead log into
// the database beside the sweep, and goes on at once; requests' writes
// take their turn between two batches (the store's writers queue in the
// order they came), and reads never wait for SQLite's writer. When the
// checkpointer falls behind and the log passes 16 MiB, the sweep waits
// for it and truncates the log itself before its next batch. It truncates
// the log when nothing expired is left: the Manager's janitor calls it
// every CleanupInterval, so the log of a running program is emptied then
// even when nothing expired.
func (s *Store) DeleteExpired(ctx context.Context, limit int) (int, error) {
	now := s.nowMs()
	size := sweepBatch
	if s.dialect == SQLite {
		size = sqliteSweepBatch
	}
	total := 0
	for {
		batch := size
		if limit > 0 {
			batch = min(batch, limit-total)
		}
		n, err := s.sweep(ctx, now, batch)
		total += n
		if err != nil {
			return total, fail("delete expired", err)
		}
		// Nothing expired is left when a batch found fewer than it could
		// take; the caller calls again when it reached the limit.
		over := n < batch
		full := limit > 0 && total >= limit
		if s.wal != "" {
			if err := s.afterSweepBatch(ctx, over); err != nil && !full {
				return total, fail("delete expired", err)
			}
		}
		if over || full {
			return total, nil
		}
	}
}

// sweep deletes at most batch rows that expired at now, in a transaction,
// and returns how many it deleted.
//
// The wait for a connection obeys ctx; the batch itself, once begun, runs
// to its end (within sweepBatchTimeout) even if ctx ends meanwhile. A
// statement or a COMMIT cut short by ctx loses its answer while the rows
// may be gone all the same (pgx commits with the transaction's context),
// and a MySQL DELETE abandoned by its client runs on, holding its locks;
// a batch takes milliseconds.
func (s *Store) sweep(ctx context.Context, now int64, batch int) (int, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	// walMu before a connection, as truncateWAL takes them.
	if s.wal != "" {
		s.walMu.Lock()
		defer s.walMu.Unlock()
	}
	if err := s.takeWriteTurn(ctx); err != nil {
		return 0, err
	}
	defer s.endWriteTurn()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sweepBatchTimeout)
	defer cancel()
	if s.wal != "" {
		restore, err := noAutoCheckpoint(bctx, conn)
		if err != nil {
			return 0, err
		}
		defer restore()
	}
	tx, err := conn.BeginTx(bctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	res, err := tx.ExecContext(bctx, s.sql.q[qSweep], now, batch)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return int(n), nil
}

// takeWriteTurn waits, on SQLite, until no other writing statement of the
// store runs, or until ctx ends.
func (s *Store) takeWriteTurn(ctx context.Context) error {
	if s.writeTurn == nil {
		return nil
	}
	select {
	case s.writeTurn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// endWriteTurn lets the next writing statement run.
func (s *Store) endWriteTurn() {
	if s.writeTurn != nil {
		<-s.writeTurn
	}
}

// noAutoCheckpoint turns SQLite's automatic checkpoint off on conn, and
// returns the function that turns it back on, as it was, before conn goes
// back to the pool (or, failing that, discards conn).
//
// SQLite runs it inside the COMMIT of a transaction that leaves the log
// over wal_autocheckpoint pages (1000 by default): a PASSIVE checkpoint
// that syncs the log, copies it into the database and syncs the
// database. A sweep's batch writes a log page for nearly every row it
// deletes (each row's entry in the key index is on a page of its own), so
// past the first few batches every COMMIT of the sweep waited for the
// disk that way. The store's checkpointer copies the log instead, beside
// the sweep, and the sweep waits for it only when it falls behind
// (afterSweepBatch).
func noAutoCheckpoint(ctx context.Context, conn *sql.Conn) (restore func(), err error) {
	var old int64
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&old); err != nil {
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
		return nil, err
	}
	return func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", old)); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}, nil
}

// afterSweepBatch truncates SQLite's write-ahead log when the sweep is
// over. Otherwise it wakes the checkpointer, which copies the log beside
// the sweep, and lets the sweep go on at once, unless the log has passed
// walSweepWaitBytes: then the checkpointer has fallen behind the sweep,
// and the sweep truncates the log itself before its next batch, which
// keeps the log bounded however slow the disk.
//
// It does not rest between batches: requests' writes take their turn on
// writeTurn, whose waiters are served in the order they came, so one
// waiting while a batch runs goes right after it; and requests' reads do
// not wait for a writer in WAL mode.
func (s *Store) afterSweepBatch(ctx context.Context, over bool) error {
	if over {
		_, err := s.truncateWAL(ctx)
		return err
	}
	s.kickWAL()
	if s.walSize() < walSweepWaitBytes {
		return nil
	}
	if _, err := s.truncateWAL(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	// Busy or failed otherwise: the next batch tries again.
	return nil
}

// OwnerKeys returns the keys of the live records whose Owner is owner, in
// key order. The empty owner has none.
func (s *Store) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	if owner == "" || len(owner) > MaxOwnerLen || !textOK(owner) {
		return nil, nil
	}
	if s.wal != "" {
		s.logMu.RLock()
		defer s.logMu.RUnlock()
	}
	rows, err := s.query(ctx, qOwner, owner, s.nowMs())
	if err != nil {
		return nil, fail("owner keys", err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fail("owner keys", err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fail("owner keys", err)
	}
	return keys, nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fail("ping", err)
	}
	return nil
}

// nowMs is the current time in Unix milliseconds, rounded down: a record
// is live while its expires column is greater.
func (s *Store) nowMs() int64 { return s.now().UnixMilli() }

// expiresMs is t in Unix milliseconds, rounded up, so that a record never
// expires before its Expires, and at most a millisecond after.
func expiresMs(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// checkKey reports whether key can be stored the same way in every
// dialect: 1 to MaxKeyLen bytes of UTF-8 text without NUL bytes (which
// PostgreSQL's TEXT refuses).
func checkKey(key string) error {
	if key == "" || len(key) > MaxKeyLen || !textOK(key) {
		return fmt.Errorf("invalid key: want 1 to %d bytes of UTF-8 text without NUL bytes", MaxKeyLen)
	}
	return nil
}

func textOK(s string) bool {
	return utf8.ValidString(s) && !strings.Contains(s, "\x00")
}

// fail wraps err from the database for operation op, adding
// httpsession.ErrTooLarge when the database refused a record as too large
// and httpsession.ErrUnavailable when it could not be reached or did not
// answer in time. The driver's error stays in the chain.
func fail(op string, err error) error {
	switch {
	case isTooLarge(err):
		return fmt.Errorf("sqlstore: %s: %w: %w", op, httpsession.ErrTooLarge, err)
	case isUnavailable(err):
		return fmt.Errorf("sqlstore: %s: %w: %w", op, httpsession.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// isUnavailable recognises the errors that mean the database could not be
// reached, dropped the connection, refused it for now or did not answer in
// time: a later try may succeed. Errors of the statement itself (a missing
// table, a constraint) are not among them.
func isUnavailable(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr): // dial errors and I/O timeouts of every driver
		return true
	}
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		switch state := coded.SQLState(); {
		case strings.HasPrefix(state, "08"), // PostgreSQL connection_exception
			state == "53300", // too_many_connections
			state == "57P01", // admin_shutdown
			state == "57P02", // crash_shutdown
			state == "57P03": // cannot_connect_now (starting up, shutting down)
			return true
		}
	}
	msg := err.Error()
	for _, m := range []string{
		"invalid connection", // go-sql-driver/mysql ErrInvalidConn: the server went away
		"Error 1040",         // MySQL/MariaDB ER_CON_COUNT_ERROR, too many connections
		"Error 1053",         // ER_SERVER_SHUTDOWN
		"SQLITE_BUSY",        // busy_timeout passed while another connection wrote
	} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// isTooLarge recognises the errors of the drivers and servers that refuse
// a statement or a value for its size. This package imports no driver, so
// it knows them by their text.
func isTooLarge(err error) bool {
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) && coded.SQLState() == "54000" { // PostgreSQL program_limit_exceeded
		return true
	}
	msg := err.Error()
	for _, m := range []string{
		"packet for query is too large", // go-sql-driver/mysql, before sending
		"Error 1153",                    // MySQL/MariaDB ER_NET_PACKET_TOO_LARGE
		"max_allowed_packet",
		"string or blob too big", // SQLite SQLITE_TOOBIG
	} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// isDeadlock recognises MySQL's ER_LOCK_DEADLOCK, after which the
// statement was rolled back and may run again.
func isDeadlock(err error) bool {
	return strings.Contains(err.Error(), "Error 1213")
}
