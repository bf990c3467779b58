package open

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	"github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/sqlstore"
)

// DefaultMaxConns is the most connections a SQL store from Open keeps open
// to its database when the URL has no max_conns. database/sql has no limit
// of its own, so without one a burst of requests opens a connection per
// request until the server refuses ("sorry, too many clients already").
// PostgreSQL allows 100 connections by default (MySQL 151): 25 lets three
// or four processes of an app share a server with room left for other
// clients. A session store's statements touch one row and take well under
// a millisecond, so 25 connections serve thousands of requests a second;
// beyond that, requests wait in database/sql's queue for a free connection,
// within the Manager's StoreTimeout.
const DefaultMaxConns = 25

// sqlParams are the store's own query parameters of a SQL URL, taken out
// before the driver sees it.
type sqlParams struct {
	table    string // sqlstore.Options.Table; "" for the default
	maxConns int    // maximum open connections
	maxIdle  int    // maximum idle connections
}

// cutSQLParams removes table, max_conns and max_idle_conns from the query
// string q (without its "?") and returns what is left.
func cutSQLParams(q string) (string, sqlParams, error) {
	p := sqlParams{maxConns: DefaultMaxConns, maxIdle: -1}
	var rest []string
	for kv := range strings.SplitSeq(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "table":
			p.table = v
		case "max_conns":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return "", p, fmt.Errorf("max_conns=%s: want a number of connections, at least 1", v)
			}
			p.maxConns = n
		case "max_idle_conns":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return "", p, fmt.Errorf("max_idle_conns=%s: want a number of connections, 0 or more", v)
			}
			p.maxIdle = n
		case "":
		default:
			rest = append(rest, kv)
		}
	}
	switch {
	case p.maxIdle < 0:
		// As many idle as open: a busy server that closed and reopened
		// connections all the time had a p99 near a second (BENCHMARKS.md).
		p.maxIdle = p.maxConns
	case p.maxIdle > p.maxConns:
		return "", p, fmt.Errorf("max_idle_conns=%d is over max_conns=%d", p.maxIdle, p.maxConns)
	}
	return strings.Join(rest, "&"), p, nil
}

// splitQuery cuts dsn at the "?" that starts its query, the first one
// after position from.
func splitQuery(dsn string, from int) (base, query string) {
	if i := strings.IndexByte(dsn[from:], '?'); i >= 0 {
		return dsn[:from+i], dsn[from+i+1:]
	}
	return dsn, ""
}

func joinQuery(base, query string) string {
	if query == "" {
		return base
	}
	return base + "?" + query
}

// openSQLURL opens postgres://, mysql:// and sqlite: URLs.
func openSQLURL(ctx context.Context, scheme, rest, rawURL string) (httpsession.Store, func() error, error) {
	switch scheme {
	case "postgres", "postgresql":
		base, query := splitQuery(rawURL, 0)
		query, p, err := cutSQLParams(query)
		if err != nil {
			return nil, nil, err
		}
		dsn := joinQuery(base, query)
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, nil, err
		}
		// Any mode but the default caches named prepared statements on
		// the connection, which a pooler in transaction mode (PgBouncer)
		// cannot keep: the URL asks for none, so the store prepares none.
		noPrepare := cfg.DefaultQueryExecMode != pgx.QueryExecModeCacheStatement
		return openSQL(ctx, "pgx", dsn, p, sqlstore.Options{Dialect: sqlstore.Postgres, NoPreparedStatements: noPrepare})
	case "mysql":
		dsn, ok := strings.CutPrefix(rest, "//")
		if !ok || !strings.Contains(dsn, "/") {
			return nil, nil, fmt.Errorf("want mysql://USER:PASS@tcp(HOST:PORT)/DB")
		}
		// The password may hold "/" and "?": the query starts after the
		// last "/", as go-sql-driver reads it.
		base, query := splitQuery(dsn, strings.LastIndexByte(dsn, '/'))
		query, p, err := cutSQLParams(query)
		if err != nil {
			return nil, nil, err
		}
		return openSQL(ctx, "mysql", joinQuery(base, query), p, sqlstore.Options{Dialect: sqlstore.MySQL})
	case "sqlite", "sqlite3":
		path, query := splitQuery(rest, 0)
		if path == "" {
			return nil, nil, fmt.Errorf("sqlite: needs a file path, as in sqlite:sessions.sqlite")
		}
		query, p, err := cutSQLParams(query)
		if err != nil {
			return nil, nil, err
		}
		// Other parameters go to the driver after the store's own, so
		// that a _pragma there wins.
		// SQLiteDSN creates the file 0600 before SQLite opens it.
		dsn, err := sqlstore.SQLiteDSN(path)
		if err != nil {
			return nil, nil, err
		}
		if query != "" {
			dsn += "&" + query
		}
		return openSQL(ctx, "sqlite", dsn, p, sqlstore.Options{Dialect: sqlstore.SQLite})
	}
	return nil, nil, fmt.Errorf("unknown scheme %q", scheme)
}

func openSQL(ctx context.Context, driver, dsn string, p sqlParams, opts sqlstore.Options) (httpsession.Store, func() error, error) {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(p.maxConns)
	db.SetMaxIdleConns(p.maxIdle)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	opts.Table = p.table
	opts.AutoCreate = true
	s, err := sqlstore.New(db, opts)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return s, func() error {
		s.Close()
		return db.Close()
	}, nil
}
