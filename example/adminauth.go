package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// basicAuth guards the admin page with HTTP Basic authentication for one
// user. It keeps SHA-256 digests of the user name and password: digests
// all have one length, so comparing them takes the same time whatever the
// length of a guess, and a guess learns nothing from the time it took.
type basicAuth struct {
	user, password [sha256.Size]byte
}

func newBasicAuth(user, password string) basicAuth {
	return basicAuth{user: sha256.Sum256([]byte(user)), password: sha256.Sum256([]byte(password))}
}

// ok reports whether r carries the user name and password.
func (a basicAuth) ok(r *http.Request) bool {
	u, p, present := r.BasicAuth()
	uh, ph := sha256.Sum256([]byte(u)), sha256.Sum256([]byte(p))
	// Both are compared, always: no early return tells which was wrong.
	same := subtle.ConstantTimeCompare(uh[:], a.user[:]) & subtle.ConstantTimeCompare(ph[:], a.password[:])
	return present && same == 1
}

// require answers a request without the right credentials with 401 and a
// Basic challenge, which makes a browser ask for the user name and
// password, and passes the others on to h.
func (a basicAuth) require(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.ok(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="httpsession admin", charset="UTF-8"`)
			w.Header().Set("Cache-Control", "no-store")
			http.Error(w, "sign in as the admin user", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
