// Package httpsession is a session manager for net/http.
//
// A Manager wraps handlers. Before a request it loads the session named by
// the request's token (a cookie by default) or starts a new one; handlers
// reach it with SessionFrom(r.Context()); before the first byte of the
// response it saves what changed through a Store.
//
// # Conflict-free saves
//
// Store.Put is a compare-and-set on the record's version. A Session logs
// this request's changes; when a save meets a concurrent change, the Manager
// reloads the record, replays the log on it and tries again, with a random
// backoff, a bounded number of times. So two requests that change different
// keys of one session both keep their changes, on one key the later save
// wins, and Update and Incr never lose a concurrent update: their functions
// run again on the fresh value. A request that finds its session gone at
// replay (another request logged out or renewed it) drops its changes
// rather than bring the session back.
//
// # What a request costs
//
// A request without a token that changes nothing costs no store call and
// sets no cookie. A request with a token costs one Store.Get; if it changes
// nothing, nothing is written, except, with an IdleTimeout, a Touch of the
// expiry at most once per TouchInterval. A request that changes the session
// costs one Put (plus a reload and a Put per conflict).
//
// The session is loaded eagerly, before the handler runs, rather than on
// first use: a store failure then reaches Config.ErrorHandler before the
// handler has done anything, and Session methods need no error results.
// Mount the middleware on the routes that use sessions, not on static files.
//
// # Security
//
// Tokens are 32 bytes from crypto/rand; stores see only their SHA-256. A
// token the store does not know is never adopted, and a malformed or
// forged one never reaches the store. Call Session.Renew at login and at
// every change of privilege, and Session.Destroy at logout. SECURITY.md in
// the repository maps the OWASP ASVS session requirements to tests.
package httpsession
