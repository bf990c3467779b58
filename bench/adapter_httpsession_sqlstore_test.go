package bench

import (
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/httpsession/httpsession/store/sqlstore"
)

// httpsessionSQLstore is httpsession on the PostgreSQL at
// BENCH_POSTGRES_URL, through database/sql and pgx.
var httpsessionSQLstore = adapter{
	name: "httpsession-sqlstore-postgres",
	open: func(b *testing.B, w workload) lib {
		s, err := sqlstore.New(postgresDB(b), sqlstore.Options{Dialect: sqlstore.Postgres, AutoCreate: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return openHTTPSession(b, s, w)
	},
}

// postgresDB opens the benchmark server, closed when the benchmark ends.
// database/sql keeps only 2 idle connections by default, which W5's
// goroutines would churn through; this pool keeps enough for all of them.
func postgresDB(b *testing.B) *sql.DB {
	db, err := sql.Open("pgx", server(b, "BENCH_POSTGRES_URL", "PostgreSQL"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxIdleConns(32)
	if err := db.Ping(); err != nil {
		b.Fatal(err)
	}
	return db
}
