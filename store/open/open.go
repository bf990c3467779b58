// Package open opens any httpsession store from a URL, for programs that
// take the store as configuration (the example app, sessionctl). It imports
// every store and driver; a program that knows its store imports that
// store's package alone.
//
// URLs:
//
//	mem:                                   in-process memory (memstore)
//	file:DIR                               one file per session in DIR (filestore)
//	bolt:PATH                              a bbolt database file (boltstore)
//	redis://[:PASSWORD@]HOST:PORT[/DB]     Redis, one node (rediss:// for TLS)
//	redis+cluster://HOST:PORT,HOST:PORT    Redis Cluster, any of its nodes
//	memcache://HOST:PORT[,HOST:PORT...]    memcached, one server or a pool
//	postgres://USER@HOST:PORT/DB?...       PostgreSQL (pgx); postgresql:// too
//	mysql://USER:PASS@tcp(HOST:PORT)/DB    MySQL or MariaDB (go-sql-driver DSN)
//	sqlite:PATH                            SQLite (modernc.org/sqlite, no cgo)
//
// SQL stores create their table (sqlstore.DefaultTable) if it is missing.
// Open checks that a server answers before it returns, so a wrong address
// fails at start and not on the first request.
package open

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "github.com/go-sql-driver/mysql" // database/sql driver "mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
	"github.com/httpsession/httpsession/store/filestore"
	"github.com/httpsession/httpsession/store/memcachestore"
	"github.com/httpsession/httpsession/store/memstore"
	"github.com/httpsession/httpsession/store/redisstore"
	"github.com/httpsession/httpsession/store/sqlstore"
)

const schemes = "mem:, file:DIR, bolt:PATH, redis://, redis+cluster://, memcache://, postgres://, mysql://, sqlite:PATH"

// Open returns the store that rawURL names and a function that releases it
// (and its client or database handle).
func Open(ctx context.Context, rawURL string) (httpsession.Store, func() error, error) {
	scheme, rest, ok := strings.Cut(rawURL, ":")
	if !ok || scheme == "" || strings.ContainsAny(scheme, "/@") {
		// Not even a scheme: the text may be anything, so it is not
		// repeated.
		return nil, nil, fmt.Errorf("open: not a store URL (want %s)", schemes)
	}
	s, closeFn, err := openScheme(ctx, strings.ToLower(scheme), rest, rawURL)
	if err != nil {
		// net/url's errors quote the whole URL, password and all.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("open: %s: %w", redact(rawURL), err)
	}
	return s, closeFn, nil
}

func openScheme(ctx context.Context, scheme, rest, rawURL string) (httpsession.Store, func() error, error) {
	switch scheme {
	case "mem", "memory":
		if rest != "" {
			return nil, nil, fmt.Errorf("mem: takes no path")
		}
		s := memstore.New(memstore.Options{})
		return s, s.Close, nil
	case "file":
		if rest == "" {
			return nil, nil, fmt.Errorf("file: needs a directory, as in file:/var/lib/sessions")
		}
		s, err := filestore.New(rest, filestore.Options{})
		if err != nil {
			return nil, nil, err
		}
		return s, nopClose, nil
	case "bolt", "bbolt":
		if rest == "" {
			return nil, nil, fmt.Errorf("bolt: needs a file path, as in bolt:sessions.db")
		}
		s, err := boltstore.Open(rest, boltstore.Options{})
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	case "redis", "rediss":
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, nil, err
		}
		opts.ContextTimeoutEnabled = true
		// go-redis redials a dead server five times per command by
		// default, which holds every request of an outage for seconds;
		// one try fails fast into the error handler.
		opts.DialerRetries = 1
		return openRedis(redis.NewClient(opts))
	case "redis+cluster":
		user, hosts, err := splitHosts(rest)
		if err != nil {
			return nil, nil, err
		}
		opts := &redis.ClusterOptions{Addrs: hosts, ContextTimeoutEnabled: true, DialerRetries: 1}
		if user != nil {
			opts.Username = user.Username()
			opts.Password, _ = user.Password()
		}
		return openRedis(redis.NewClusterClient(opts))
	case "memcache", "memcached":
		_, hosts, err := splitHosts(rest)
		if err != nil {
			return nil, nil, err
		}
		s, err := memcachestore.NewServers(hosts...)
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
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
	return nil, nil, fmt.Errorf("unknown scheme %q (want %s)", scheme, schemes)
}

func nopClose() error { return nil }

func openRedis(c redis.UniversalClient) (httpsession.Store, func() error, error) {
	s, err := redisstore.New(c, redisstore.Options{})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return s, c.Close, nil
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

// splitHosts parses "//[user[:pass]@]h1:p1,h2:p2[/...]": url.Parse
// refuses several hosts.
func splitHosts(rest string) (*url.Userinfo, []string, error) {
	authority, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return nil, nil, fmt.Errorf("want SCHEME://HOST:PORT[,HOST:PORT...]")
	}
	if i := strings.IndexAny(authority, "/?#"); i >= 0 {
		authority = authority[:i]
	}
	var user *url.Userinfo
	if at := strings.LastIndexByte(authority, '@'); at >= 0 {
		name, pass, hasPass := strings.Cut(authority[:at], ":")
		user = url.User(name)
		if hasPass {
			user = url.UserPassword(name, pass)
		}
		authority = authority[at+1:]
	}
	if authority == "" {
		return nil, nil, fmt.Errorf("no host in the URL")
	}
	hosts := strings.Split(authority, ",")
	for _, h := range hosts {
		if i := strings.LastIndexByte(h, ':'); i <= 0 || i == len(h)-1 {
			return nil, nil, fmt.Errorf("%q: want HOST:PORT", h)
		}
	}
	return user, hosts, nil
}

// redact hides a password in a URL before it goes into an error message.
// The user information ends at the last "@" before the last "/": a
// go-sql-driver DSN's user name and password may hold "/", "?" and "#".
func redact(raw string) string {
	i := strings.Index(raw, "://")
	if i < 0 {
		return raw
	}
	rest := raw[i+3:]
	end := strings.LastIndexByte(rest, '/')
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return raw
	}
	colon := strings.IndexByte(rest[:at], ':')
	if colon < 0 {
		return raw
	}
	return raw[:i+3] + rest[:colon+1] + "xxxxx" + rest[at:]
}
