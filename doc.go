// Package httpsession is a session manager for net/http.
//
// A Manager wraps handlers. Before a request it loads the session named by
// the request's token (a cookie by default) or starts a new one; handlers
// reach it with SessionFrom(r.Context()), or m.From(r.Context()) when
// several Managers wrap one handler; before the first byte of the response
// it saves what changed through a Store. Manager.Save saves earlier, before
// a redirect or a long stream, and Session.Status says what happened.
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
// rather than bring the session back, and its Status is StatusInterrupted.
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
// every change of privilege, and Session.Destroy at logout; both take
// effect even if the handler then fails. For Config.RenewGrace after a
// Renew, the old token reaches no data and gets no new session, so a
// request another tab sent before the login cannot log the user out.
// Session.SetLifetime gives a session its own lifetime and cookie kind
// ("remember me"). SECURITY.md in the repository maps the OWASP ASVS
// session requirements to tests.
package httpsession
