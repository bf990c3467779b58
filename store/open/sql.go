package open

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/sqlstore"
)

// openSQLURL opens postgres://, mysql:// and sqlite: URLs.
func openSQLURL(ctx context.Context, scheme, rest, rawURL string) (httpsession.Store, func() error, error) {
	switch scheme {
	case "postgres", "postgresql":
		return openSQL(ctx, "pgx", rawURL, sqlstore.Postgres)
	case "mysql":
		dsn, ok := strings.CutPrefix(rest, "//")
		if !ok || !strings.Contains(dsn, "/") {
			return nil, nil, fmt.Errorf("want mysql://USER:PASS@tcp(HOST:PORT)/DB")
		}
		return openSQL(ctx, "mysql", dsn, sqlstore.MySQL)
	case "sqlite", "sqlite3":
		if rest == "" {
			return nil, nil, fmt.Errorf("sqlite: needs a file path, as in sqlite:sessions.sqlite")
		}
		dsn := "file:" + rest + "?" + sqlstore.SQLiteParams
		return openSQL(ctx, "sqlite", dsn, sqlstore.SQLite)
	}
	return nil, nil, fmt.Errorf("unknown scheme %q", scheme)
}

func openSQL(ctx context.Context, driver, dsn string, d sqlstore.Dialect) (httpsession.Store, func() error, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, nil, err
	}
	// database/sql keeps 2 idle connections by default, so a busy server
	// closes and reopens connections all the time (p99 near a second
	// under load in BENCHMARKS.md); keep enough for a loaded app server.
	db.SetMaxIdleConns(32)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	s, err := sqlstore.New(db, sqlstore.Options{Dialect: d, AutoCreate: true})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, func() error {
		s.Close()
		return db.Close()
	}, nil
}
