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
//	redis+sentinel://[:PASSWORD@]HOST:PORT[,HOST:PORT...]/MASTERNAME[/DB][?sentinel_password=P]
//	                                       Redis with Sentinel: the sentinels' addresses
//	memcache://HOST:PORT[,HOST:PORT...][?prefix=P&timeout=D]
//	                                       memcached, one server or a pool
//	postgres://USER@HOST:PORT/DB?...       PostgreSQL (pgx); postgresql:// too
//	mysql://USER:PASS@tcp(HOST:PORT)/DB    MySQL or MariaDB (go-sql-driver DSN)
//	sqlite:PATH                            SQLite (modernc.org/sqlite, no cgo)
//
// The Redis URLs take prefix=P (e.g. redis://HOST:PORT/0?prefix=myapp:),
// the prefix of every key the store writes (redisstore.DefaultPrefix by
// default): two applications that share a Redis server must use different
// prefixes, or a token issued by one works in the other. All three set
// go-redis's ContextTimeoutEnabled and one dial per try (DialerRetries 1),
// so that an outage fails fast into the error handler; a cluster client
// also reloads its slot map every 2 s while in use instead of every 60 s.
// The password of a redis+sentinel:// URL is the one of the Redis servers;
// sentinels that ask one of their own (requirepass in sentinel.conf) get
// sentinel_password=P, and sentinel_username=U for an ACL user. Redact
// hides both passwords.
//
// SQL stores create their table (sqlstore.DefaultTable) if it is missing.
// Their URLs take table=NAME (two applications on one database need a
// table each), max_conns=N (DefaultMaxConns by default) and
// max_idle_conns=N (as many as max_conns), which are taken out before the
// driver sees the URL; a postgres:// URL with pgx's
// default_query_exec_mode=exec or simple_protocol (for PgBouncer in
// transaction mode) gets a store that prepares no statements. An SQLite
// file is created 0600.
// Open checks that a server answers before it returns, so a wrong address
// fails at start and not on the first request; a memcached pool opens when
// one of its servers answers (memcachestore.NewPool).
package open

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/httpsession/httpsession"
)

const schemes = "mem:, file:DIR, bolt:PATH, redis://, redis+cluster://, redis+sentinel://, memcache://, postgres://, mysql://, sqlite:PATH"

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
		return nil, nil, fmt.Errorf("open: %s: %w", Redact(rawURL), err)
	}
	return s, closeFn, nil
}

func openScheme(ctx context.Context, scheme, rest, rawURL string) (httpsession.Store, func() error, error) {
	switch scheme {
	case "mem", "memory", "file", "bolt", "bbolt":
		return openEmbedded(scheme, rest)
	case "redis", "rediss", "redis+cluster", "redis+sentinel":
		return openRedisURL(scheme, rest, rawURL)
	case "memcache", "memcached":
		return openMemcache(rest)
	case "postgres", "postgresql", "mysql", "sqlite", "sqlite3":
		return openSQLURL(ctx, scheme, rest, rawURL)
	}
	return nil, nil, fmt.Errorf("unknown scheme %q (want %s)", scheme, schemes)
}

func nopClose() error { return nil }

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
