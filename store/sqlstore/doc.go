// Package sqlstore is an httpsession store on database/sql, for
// PostgreSQL, MySQL or MariaDB, and SQLite.
//
// The package imports no driver: the program opens the *sql.DB with the
// driver it chooses, tells New the dialect, and keeps the *sql.DB open
// while the store is in use. These are the drivers it is tested with:
//
//	import _ "github.com/jackc/pgx/v5/stdlib" // sql.Open("pgx", "postgres://user:pw@host:5432/db?sslmode=verify-full")
//	import _ "github.com/go-sql-driver/mysql"  // sql.Open("mysql", "user:pw@tcp(host:3306)/db")
//	import _ "modernc.org/sqlite"              // sql.Open("sqlite", "file:/var/lib/app/sessions.db?"+sqlstore.SQLiteParams)
//
// New checks the options, pings the database and, with Options.AutoCreate,
// creates the table. Programs that manage their schema with migrations
// leave AutoCreate off and create the table with the statements below.
//
// # Schema
//
// One table, named by Options.Table (default httpsession_sessions), with
// one row per session: key is the store key (the Manager's SHA-256 of the
// token, never the token), data the codec's bytes in a binary column, so
// that every codec's output survives; expires the end of the record's
// life, version its compare-and-set version and owner its optional
// principal (NULL when there is none).
//
// expires is a BIGINT of Unix milliseconds rather than a timestamp type:
// it means the same in every dialect, needs no time zone or driver time
// conversion, and compares as an integer. The current time against which
// it is compared is the program's (Options.Now), sent as a parameter, never
// the database's NOW(): expiry is decided alike in every dialect, and
// programs that share a table should keep their clocks synchronised. A
// record's Expires is rounded up to the millisecond, so it never expires
// early.
//
// PostgreSQL:
//
//	CREATE TABLE IF NOT EXISTS "httpsession_sessions" (
//		"key"     TEXT COLLATE "C" PRIMARY KEY,
//		"data"    BYTEA  NOT NULL,
//		"expires" BIGINT NOT NULL,
//		"version" BIGINT NOT NULL,
//		"owner"   TEXT
//	);
//	CREATE INDEX IF NOT EXISTS "httpsession_sessions_expires_idx" ON "httpsession_sessions" ("expires");
//	CREATE INDEX IF NOT EXISTS "httpsession_sessions_owner_idx" ON "httpsession_sessions" ("owner") WHERE "owner" IS NOT NULL;
//
// MySQL and MariaDB (VARBINARY compares byte by byte: with a
// case-insensitive collation the owner "Alice" would own alice's
// sessions):
//
//	CREATE TABLE IF NOT EXISTS `httpsession_sessions` (
//		`key`     VARBINARY(255) NOT NULL,
//		`data`    LONGBLOB       NOT NULL,
//		`expires` BIGINT         NOT NULL,
//		`version` BIGINT         NOT NULL,
//		`owner`   VARBINARY(255) NULL,
//		PRIMARY KEY (`key`),
//		KEY `expires_idx` (`expires`),
//		KEY `owner_idx` (`owner`)
//	) ENGINE=InnoDB;
//
// SQLite:
//
//	CREATE TABLE IF NOT EXISTS "httpsession_sessions" (
//		"key"     TEXT PRIMARY KEY NOT NULL,
//		"data"    BLOB    NOT NULL,
//		"expires" INTEGER NOT NULL,
//		"version" INTEGER NOT NULL,
//		"owner"   TEXT
//	);
//	CREATE INDEX IF NOT EXISTS "httpsession_sessions_expires_idx" ON "httpsession_sessions" ("expires");
//	CREATE INDEX IF NOT EXISTS "httpsession_sessions_owner_idx" ON "httpsession_sessions" ("owner") WHERE "owner" IS NOT NULL;
//
// For another table name, replace httpsession_sessions throughout. On
// PostgreSQL and SQLite the index names are the table name followed by
// _expires_idx and _owner_idx; where that is over 63 bytes, CreateTable
// shortens the table name and adds a hash of it.
//
// The table name is the only text the store puts into SQL. New accepts it
// only if it matches [A-Za-z_][A-Za-z0-9_]{0,62}, and quotes it, so its
// case is kept. Every value is a bound parameter.
//
// Keys are 1 to 255 bytes, owners up to 255 bytes, both UTF-8 text without
// NUL bytes, in every dialect (PostgreSQL's TEXT refuses NUL bytes).
//
// # Guarantees
//
// Put with version 0 is one statement that inserts the row, or replaces
// the row under the key if that one has expired, and otherwise changes
// nothing; its affected-rows count says whether it won. Under any number
// of concurrent first writes of one key exactly one wins and the others
// get ErrConflict, never a duplicate-key error:
//
//	PostgreSQL, SQLite: INSERT ... ON CONFLICT ("key") DO UPDATE SET ... WHERE t."expires" <= now
//	MySQL, MariaDB:     INSERT ... ON DUPLICATE KEY UPDATE col = IF(`expires` <= now, VALUES(col), col), ...
//
// The new record's version is random (below 2^62), so a writer that holds
// the version of a deleted record cannot match the next record created
// under its key. Put with another version is UPDATE ... SET ...,
// version = version + 1 WHERE key = ? AND version = ? AND expires > now;
// no row updated is ErrConflict, and it never inserts: a destroyed session
// is not brought back. Touch is UPDATE ... SET expires = ? WHERE key = ?
// AND expires > now, which creates nothing. An expired row is absent for
// every method and stays in the table until DeleteExpired removes it: the
// Manager's janitor calls it, in batches.
//
// Data over Options.MaxRecordSize is ErrTooLarge before anything is sent;
// a database's own refusal for size (MySQL's max_allowed_packet, SQLite's
// SQLITE_TOOBIG, PostgreSQL's SQLSTATE 54000) is ErrTooLarge as well.
//
// Durability is the database's: a committed Put survives what the
// database's settings make commits survive (PostgreSQL synchronous_commit,
// InnoDB innodb_flush_log_at_trx_commit, SQLite synchronous).
//
// A database that cannot be reached, drops the connection or does not
// answer in time gives an error wrapping httpsession.ErrUnavailable and
// the driver's error; the Manager answers 503 for it.
//
// # PostgreSQL
//
// After a server restart database/sql drops the dead connections and opens
// new ones; a call that was under way on a dead connection fails once.
//
// Behind PgBouncer in transaction pooling mode, set
// Options.NoPreparedStatements and put default_query_exec_mode=exec in the
// pgx URL: named prepared statements do not survive there.
//
// # MySQL and MariaDB
//
// The DSN must not set clientFoundRows=true: the create tells a replaced
// expired row (2 rows affected) and an insert (1) from a live row left
// alone (0) by MySQL's count of changed rows. New checks this with an
// upsert on a temporary table, when the user may create one. Keep MaxRecordSize below the
// server's max_allowed_packet (MariaDB's default is 16 MiB, MySQL 8's is
// 64 MiB, MySQL 5.7's 4 MiB); DefaultMaxRecordSize, 8 MiB, fits the first
// two. A create that InnoDB
// picks as a deadlock victim is run again, a few times at most.
//
// # SQLite
//
// SQLite lets one connection write at a time. Open the database with
// SQLiteDSN, which creates the file 0600 (SQLite makes the -wal and -shm
// files with the same permissions) and adds SQLiteParams. They set busy_timeout, so that a connection waits for
// the writer instead of failing with "database is locked"; WAL, so that
// readers do not wait for the writer; synchronous=NORMAL, which in WAL
// mode survives a crash of the program (the last commits may be lost on a
// power failure, the database stays intact); and a journal_size_limit.
// Keep the file on a local file system.
//
// SQLite's own checkpoints cannot keep up with concurrent writers and
// readers, and its write-ahead log then grows without bound. A Store on
// an SQLite file runs a goroutine, from New to Close, that truncates the
// log whenever it passes 8 MiB (wal_checkpoint(TRUNCATE), with the store's
// statements held back for the milliseconds the last step takes), so the
// log stays within a few times that while writes run; the sweep
// (DeleteExpired) deletes in batches of 250 rows, leaves the copying to
// that goroutine unless the log passes 16 MiB, and truncates the log at
// its end. Close the Store to stop the goroutine. The package
// README has the measurements, and says when to VACUUM.
package sqlstore
