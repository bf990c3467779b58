// Package httpsession is a session manager for net/http.
//
// A Manager wraps handlers. Before a request it loads the session named by
// the request's token (a cookie by default) or starts a new one; handlers
// reach it with SessionFrom(r.Context()); before the first byte of the
// response it saves what changed through a Store. Saves are conflict-free:
// Store.Put is a compare-and-set, and on a conflict the Manager reloads the
// record, replays this request's changes on it and tries again, so
// concurrent requests that change one session all keep their changes.
package httpsession
