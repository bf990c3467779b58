package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/sqlstore"
	"github.com/httpsession/httpsession/store/storetest"
)

// The benchmarks work on benchKeys records of benchData bytes, the size of
// a modest session.
const (
	benchKeys = 1024
	benchData = 512
)

func BenchmarkSQLite(b *testing.B) {
	benchDialect(b, sqlstore.SQLite, openSQLite(b))
}

func BenchmarkPostgres(b *testing.B) {
	_, db := openPostgres(b)
	benchDialect(b, sqlstore.Postgres, db)
}

// BenchmarkUnprepared is W3, GetPut, on PostgreSQL with prepared statements
// and without (NoPreparedStatements, pgx's default_query_exec_mode=exec or
// simple_protocol), directly and through PgBouncer in transaction mode: what
// parsing every statement again costs.
func BenchmarkUnprepared(b *testing.B) {
	pg, db := openPostgres(b)
	bouncer := testservice.PgBouncer(b, pg)
	for _, tc := range []struct {
		name      string
		db        *sql.DB
		noPrepare bool
	}{
		{"direct/prepared", db, false},
		{"direct/exec", openDB(b, "pgx", pg.DSN()+"&default_query_exec_mode=exec"), true},
		{"direct/simple_protocol", openDB(b, "pgx", pg.DSN()+"&default_query_exec_mode=simple_protocol"), true},
		{"pgbouncer/exec", openDB(b, "pgx", bouncer.DSN()+"&default_query_exec_mode=exec"), true},
		{"pgbouncer/simple_protocol", openDB(b, "pgx", bouncer.DSN()+"&default_query_exec_mode=simple_protocol"), true},
	} {
		b.Run(tc.name+"/GetPut", func(b *testing.B) {
			benchGetPut(b, sqlstore.Postgres, tc.db, sqlstore.Options{NoPreparedStatements: tc.noPrepare})
		})
	}
}

func BenchmarkMariaDB(b *testing.B) {
	_, db := openMariaDB(b)
	benchDialect(b, sqlstore.MySQL, db)
}

// benchDialect runs storetest's benchmarks; GetPut, the store's Get and
// Put in a row as a request that changed its session does; and RawFloor:
// the same two statements written by hand against the same table through
// the same *sql.DB, with no store in between.
func benchDialect(b *testing.B, d sqlstore.Dialect, db *sql.DB) {
	storetest.Bench(b, func(b *testing.B) httpsession.Store {
		return newStore(b, db, d, sqlstore.Options{})
	}, storetest.BenchOptions{})
	b.Run("GetPut", func(b *testing.B) { benchGetPut(b, d, db, sqlstore.Options{}) })
	b.Run("RawFloor", func(b *testing.B) {
		table := fmt.Sprintf("hs_bench_%s_%d", tableRun, tableSeq.Add(1))
		b.Cleanup(func() { _, _ = db.Exec("DROP TABLE " + table) })
		_, keys, _ := benchStore(b, d, db, sqlstore.Options{Table: table})
		sel := `SELECT "data", "expires", "version", "owner" FROM ` + table + ` WHERE "key" = $1 AND "expires" > $2`
		upd := `UPDATE ` + table + ` SET "data" = $1, "expires" = $2, "owner" = $3, "version" = "version" + 1 WHERE "key" = $4 AND "version" = $5 AND "expires" > $6`
		switch d {
		case sqlstore.MySQL:
			sel = "SELECT `data`, `expires`, `version`, `owner` FROM " + table + " WHERE `key` = ? AND `expires` > ?"
			upd = "UPDATE " + table + " SET `data` = ?, `expires` = ?, `owner` = ?, `version` = `version` + 1 WHERE `key` = ? AND `version` = ? AND `expires` > ?"
		case sqlstore.SQLite:
			sel = `SELECT "data", "expires", "version", "owner" FROM ` + table + ` WHERE "key" = ? AND "expires" > ?`
			upd = `UPDATE ` + table + ` SET "data" = ?, "expires" = ?, "owner" = ?, "version" = "version" + 1 WHERE "key" = ? AND "version" = ? AND "expires" > ?`
		}
		ctx := context.Background()
		exp := time.Now().Add(time.Hour).UnixMilli()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			k := keys[i%benchKeys]
			now := time.Now().UnixMilli()
			var (
				data             []byte
				expires, version int64
				owner            sql.NullString
			)
			if err := db.QueryRowContext(ctx, sel, k, now).Scan(&data, &expires, &version, &owner); err != nil {
				b.Fatal(err)
			}
			res, err := db.ExecContext(ctx, upd, data, exp, owner, k, version, now)
			if err != nil {
				b.Fatal(err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				b.Fatalf("update: %d rows, %v", n, err)
			}
			i++
		}
	})
}

// benchGetPut is the store's side of W3, a request that changed its
// session: Get, then Put of the version read.
func benchGetPut(b *testing.B, d sqlstore.Dialect, db *sql.DB, opts sqlstore.Options) {
	s, keys, _ := benchStore(b, d, db, opts)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := keys[i%benchKeys]
		rec, err := s.Get(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Put(ctx, k, httpsession.Record{Data: rec.Data, Expires: exp, Version: rec.Version}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// benchStore returns a store holding benchKeys records, on the table of
// opts or a fresh one, with the records' keys and versions.
func benchStore(b *testing.B, d sqlstore.Dialect, db *sql.DB, opts sqlstore.Options) (*sqlstore.Store, []string, []uint64) {
	b.Helper()
	s := newStore(b, db, d, opts)
	keys := make([]string, benchKeys)
	versions := make([]uint64, benchKeys)
	data := make([]byte, benchData)
	exp := time.Now().Add(time.Hour)
	for i := range keys {
		keys[i] = key(fmt.Sprint("bench", i))
		v, err := s.Put(context.Background(), keys[i], httpsession.Record{Data: data, Expires: exp})
		if err != nil {
			b.Fatal(err)
		}
		versions[i] = v
	}
	return s, keys, versions
}
