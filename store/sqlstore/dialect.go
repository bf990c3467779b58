package sqlstore

import (
	"fmt"
	"hash/fnv"
	"strings"
)

// Dialect names the SQL database a Store talks to. It decides the column
// types, the placeholders and the form of the atomic create.
type Dialect string

// The dialects a Store speaks.
const (
	// Postgres is PostgreSQL 9.5 or later, e.g. through
	// github.com/jackc/pgx/v5/stdlib (driver name "pgx").
	Postgres Dialect = "postgres"
	// MySQL is MySQL 5.7 or later, or MariaDB 10.2 or later, through
	// github.com/go-sql-driver/mysql (driver name "mysql").
	MySQL Dialect = "mysql"
	// SQLite is SQLite 3.24 or later, e.g. through modernc.org/sqlite
	// (driver name "sqlite").
	SQLite Dialect = "sqlite"
)

// query names one of the statements a Store prepares.
type query int

const (
	qGet    query = iota // key, now -> data, expires, version, owner
	qCreate              // key, data, expires, version, owner, now (MySQL: now 4 times)
	qUpdate              // data, expires, owner, key, version, now
	qTouch               // expires, key, now
	qExists              // key, now -> 1 (MySQL only: see Touch)
	qDelete              // key
	qList                // after, now, limit -> key, data, expires, version, owner
	qSweep               // now, limit
	qOwner               // owner, now -> key
	numQueries
)

// dialectSQL is a dialect's statements with the table name filled in.
type dialectSQL struct {
	ddl []string
	q   [numQueries]string
	// createNows is how many times qCreate takes the current time.
	createNows int
	// createWon reports whether qCreate's affected-rows count means it
	// wrote the row.
	createWon func(n int64) bool
}

// identifierOK reports whether name is a plain SQL identifier that every
// dialect accepts unchanged: [A-Za-z_][A-Za-z0-9_]{0,62}.
func identifierOK(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// indexName returns the name of the index of table on col, for dialects
// whose index names live in one namespace per schema. It never exceeds
// PostgreSQL's 63 bytes: a long table name is shortened and a hash of the
// whole name keeps two such names apart.
func indexName(table, col string) string {
	suffix := "_" + col + "_idx"
	if len(table)+len(suffix) <= 63 {
		return table + suffix
	}
	h := fnv.New32a()
	h.Write([]byte(table))
	suffix = fmt.Sprintf("_%08x%s", h.Sum32(), suffix)
	return table[:63-len(suffix)] + suffix
}

// sqlFor returns the statements of dialect d for table, which must have
// passed identifierOK: it is the only text interpolated into SQL, and it is
// quoted as well.
func sqlFor(d Dialect, table string) (dialectSQL, error) {
	switch d {
	case Postgres:
		return postgresSQL(table), nil
	case MySQL:
		return mysqlSQL(table), nil
	case SQLite:
		return sqliteSQL(table), nil
	case "":
		return dialectSQL{}, fmt.Errorf("sqlstore: Options.Dialect is not set: use sqlstore.Postgres, sqlstore.MySQL or sqlstore.SQLite")
	}
	return dialectSQL{}, fmt.Errorf("sqlstore: unknown dialect %q: use sqlstore.Postgres, sqlstore.MySQL or sqlstore.SQLite", string(d))
}

// fill replaces {t} by the quoted table and {expires_idx}, {owner_idx} by
// the quoted index names.
func fill(stmts []string, quote func(string) string, table string) []string {
	r := strings.NewReplacer(
		"{t}", quote(table),
		"{expires_idx}", quote(indexName(table, "expires")),
		"{owner_idx}", quote(indexName(table, "owner")),
	)
	out := make([]string, len(stmts))
	for i, s := range stmts {
		out[i] = r.Replace(s)
	}
	return out
}

func doubleQuote(s string) string { return `"` + s + `"` }
func backQuote(s string) string   { return "`" + s + "`" }

func oneWon(n int64) bool { return n == 1 }

func postgresSQL(table string) dialectSQL {
	ddl := fill([]string{
		`CREATE TABLE IF NOT EXISTS {t} (
	"key"     TEXT COLLATE "C" PRIMARY KEY,
	"data"    BYTEA  NOT NULL,
	"expires" BIGINT NOT NULL,
	"version" BIGINT NOT NULL,
	"owner"   TEXT
)`,
		`CREATE INDEX IF NOT EXISTS {expires_idx} ON {t} ("expires")`,
		`CREATE INDEX IF NOT EXISTS {owner_idx} ON {t} ("owner") WHERE "owner" IS NOT NULL`,
	}, doubleQuote, table)
	q := fill([]string{
		qGet: `SELECT "data", "expires", "version", "owner" FROM {t} WHERE "key" = $1 AND "expires" > $2`,
		qCreate: `INSERT INTO {t} ("key", "data", "expires", "version", "owner") VALUES ($1, $2, $3, $4, $5)
ON CONFLICT ("key") DO UPDATE SET "data" = EXCLUDED."data", "expires" = EXCLUDED."expires", "version" = EXCLUDED."version", "owner" = EXCLUDED."owner"
WHERE {t}."expires" <= $6`,
		qUpdate: `UPDATE {t} SET "data" = $1, "expires" = $2, "owner" = $3, "version" = "version" + 1 WHERE "key" = $4 AND "version" = $5 AND "expires" > $6`,
		qTouch:  `UPDATE {t} SET "expires" = $1 WHERE "key" = $2 AND "expires" > $3`,
		qExists: `SELECT 1 FROM {t} WHERE "key" = $1 AND "expires" > $2`,
		qDelete: `DELETE FROM {t} WHERE "key" = $1`,
		qList:   `SELECT "key", "data", "expires", "version", "owner" FROM {t} WHERE "key" > $1 AND "expires" > $2 ORDER BY "key" LIMIT $3`,
		// The outer test of expires is checked again on a row that a
		// concurrent create made live after the subquery chose it.
		qSweep: `DELETE FROM {t} WHERE "key" IN (SELECT "key" FROM {t} WHERE "expires" <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED) AND "expires" <= $1`,
		qOwner: `SELECT "key" FROM {t} WHERE "owner" = $1 AND "expires" > $2 ORDER BY "key"`,
	}, doubleQuote, table)
	return dialectSQL{ddl: ddl, q: [numQueries]string(q), createNows: 1, createWon: oneWon}
}

func sqliteSQL(table string) dialectSQL {
	ddl := fill([]string{
		`CREATE TABLE IF NOT EXISTS {t} (
	"key"     TEXT PRIMARY KEY NOT NULL,
	"data"    BLOB    NOT NULL,
	"expires" INTEGER NOT NULL,
	"version" INTEGER NOT NULL,
	"owner"   TEXT
)`,
		`CREATE INDEX IF NOT EXISTS {expires_idx} ON {t} ("expires")`,
		`CREATE INDEX IF NOT EXISTS {owner_idx} ON {t} ("owner") WHERE "owner" IS NOT NULL`,
	}, doubleQuote, table)
	q := fill([]string{
		qGet: `SELECT "data", "expires", "version", "owner" FROM {t} WHERE "key" = ? AND "expires" > ?`,
		qCreate: `INSERT INTO {t} ("key", "data", "expires", "version", "owner") VALUES (?, ?, ?, ?, ?)
ON CONFLICT ("key") DO UPDATE SET "data" = excluded."data", "expires" = excluded."expires", "version" = excluded."version", "owner" = excluded."owner"
WHERE {t}."expires" <= ?`,
		qUpdate: `UPDATE {t} SET "data" = ?, "expires" = ?, "owner" = ?, "version" = "version" + 1 WHERE "key" = ? AND "version" = ? AND "expires" > ?`,
		qTouch:  `UPDATE {t} SET "expires" = ? WHERE "key" = ? AND "expires" > ?`,
		qExists: `SELECT 1 FROM {t} WHERE "key" = ? AND "expires" > ?`,
		qDelete: `DELETE FROM {t} WHERE "key" = ?`,
		qList:   `SELECT "key", "data", "expires", "version", "owner" FROM {t} WHERE "key" > ? AND "expires" > ? ORDER BY "key" LIMIT ?`,
		// SQLite runs one writer at a time, so the subquery's choice holds.
		// It reads rowids from the expires index alone and deletes by
		// rowid: no lookup of each key in the primary key's index.
		qSweep: `DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} WHERE "expires" <= ? LIMIT ?)`,
		qOwner: `SELECT "key" FROM {t} WHERE "owner" = ? AND "expires" > ? ORDER BY "key"`,
	}, doubleQuote, table)
	return dialectSQL{ddl: ddl, q: [numQueries]string(q), createNows: 1, createWon: oneWon}
}

func mysqlSQL(table string) dialectSQL {
	// VARBINARY keys and owners compare and sort byte by byte, as the other
	// dialects do; a case-insensitive collation would make "Alice" the
	// owner of alice's sessions. Index names are per table in MySQL.
	ddl := fill([]string{
		"CREATE TABLE IF NOT EXISTS {t} (\n" +
			"\t`key`     VARBINARY(255) NOT NULL,\n" +
			"\t`data`    LONGBLOB       NOT NULL,\n" +
			"\t`expires` BIGINT         NOT NULL,\n" +
			"\t`version` BIGINT         NOT NULL,\n" +
			"\t`owner`   VARBINARY(255) NULL,\n" +
			"\tPRIMARY KEY (`key`),\n" +
			"\tKEY `expires_idx` (`expires`),\n" +
			"\tKEY `owner_idx` (`owner`)\n" +
			") ENGINE=InnoDB",
	}, backQuote, table)
	q := fill([]string{
		qGet: "SELECT `data`, `expires`, `version`, `owner` FROM {t} WHERE `key` = ? AND `expires` > ?",
		// MySQL assigns left to right and later assignments see earlier
		// ones, so expires, which every IF tests, comes last. Affected
		// rows: 1 inserted, 2 replaced an expired row, 0 left a live row
		// as it was (with CLIENT_FOUND_ROWS off, the driver's default).
		qCreate: "INSERT INTO {t} (`key`, `data`, `expires`, `version`, `owner`) VALUES (?, ?, ?, ?, ?)\n" +
			"ON DUPLICATE KEY UPDATE\n" +
			"`data` = IF(`expires` <= ?, VALUES(`data`), `data`),\n" +
			"`version` = IF(`expires` <= ?, VALUES(`version`), `version`),\n" +
			"`owner` = IF(`expires` <= ?, VALUES(`owner`), `owner`),\n" +
			"`expires` = IF(`expires` <= ?, VALUES(`expires`), `expires`)",
		qUpdate: "UPDATE {t} SET `data` = ?, `expires` = ?, `owner` = ?, `version` = `version` + 1 WHERE `key` = ? AND `version` = ? AND `expires` > ?",
		qTouch:  "UPDATE {t} SET `expires` = ? WHERE `key` = ? AND `expires` > ?",
		qExists: "SELECT 1 FROM {t} WHERE `key` = ? AND `expires` > ?",
		qDelete: "DELETE FROM {t} WHERE `key` = ?",
		qList:   "SELECT `key`, `data`, `expires`, `version`, `owner` FROM {t} WHERE `key` > ? AND `expires` > ? ORDER BY `key` LIMIT ?",
		qSweep:  "DELETE FROM {t} WHERE `expires` <= ? LIMIT ?",
		qOwner:  "SELECT `key` FROM {t} WHERE `owner` = ? AND `expires` > ? ORDER BY `key`",
	}, backQuote, table)
	return dialectSQL{
		ddl:        ddl,
		q:          [numQueries]string(q),
		createNows: 4,
		createWon:  func(n int64) bool { return n == 1 || n == 2 },
	}
}
