package main

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/admin"
	"github.com/httpsession/httpsession/sessions"
)

// app is the whole example: the session routes, the "your devices" page
// and, with a password, the operators' admin page at /admin/.
func app(m *httpsession.Manager, o options) (http.Handler, error) {
	mux := http.NewServeMux()
	user := routes(o.remember).(*http.ServeMux)
	d := devices{m: m}
	user.HandleFunc("GET /devices", d.page)
	user.HandleFunc("POST /devices/signout", d.signOut)
	// The cross-origin check runs before the session middleware: a
	// refused request (a form on another site posting here with the
	// visitor's cookie) neither reads nor creates a session.
	mux.Handle("/", http.NewCrossOriginProtection().Handler(m.Handler(user)))
	if o.adminPassword != "" {
		auth := newBasicAuth("admin", o.adminPassword)
		h, err := admin.New(m, admin.Options{Prefix: "/admin", Authorize: auth.ok})
		if err != nil {
			return nil, err
		}
		mux.Handle("/admin/", auth.require(h))
	}
	return noSniff(mux), nil
}

// noSniff tells browsers to take every response for the type it says it
// is, so that a text/plain value that looks like HTML is never run as a
// page.
func noSniff(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

type devices struct{ m *httpsession.Manager }

var devicesPage = template.Must(template.New("devices").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your devices</title>
<style>body{font-family:system-ui,sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse}td,th{border-bottom:1px solid #ccc;padding:.3rem .6rem;text-align:left}</style></head><body>
<h1>Your devices</h1>
<p>Signed in as <b>{{.User}}</b>. <a href="/">Back</a></p>
<table id="devices"><tr><th>Device</th><th>Address</th><th>Signed in</th><th>Last seen</th><th></th></tr>
{{range .Sessions}}<tr><td>{{if .UserAgent}}{{.UserAgent}}{{else}}unknown{{end}}</td><td>{{.IP}}</td>
<td>{{.Created.Format "2006-01-02 15:04"}}</td><td>{{.LastSeen.Format "2006-01-02 15:04"}}</td>
<td>{{if eq .Key $.Current}}<b>this device</b>{{end}}</td></tr>
{{end}}</table>
<form method="post" action="/devices/signout"><input type="hidden" name="keep" value="1">
<button id="signout-others">Sign out all other devices</button></form>
<form method="post" action="/devices/signout"><button id="signout-all">Sign out everywhere</button></form>
</body></html>`))

func (d devices) page(w http.ResponseWriter, r *http.Request) {
	s := httpsession.SessionFrom(r.Context())
	user, _ := httpsession.Get[string](s, "user")
	if user == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	list, err := sessions.Of(r.Context(), d.m, user)
	if err != nil {
		http.Error(w, "cannot list your devices right now", http.StatusServiceUnavailable)
		return
	}
	slices.SortFunc(list, func(a, b httpsession.SessionInfo) int { return b.LastSeen.Compare(a.LastSeen) })
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	devicesPage.Execute(w, struct {
		User     string
		Current  string
		Sessions []httpsession.SessionInfo
	}{user, httpsession.StoreKey(s.Token()), list})
}

// signOut ends the user's other sessions, or all of them.
func (d devices) signOut(w http.ResponseWriter, r *http.Request) {
	s := httpsession.SessionFrom(r.Context())
	user, _ := httpsession.Get[string](s, "user")
	if user == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	keepThis := r.PostFormValue("keep") != ""
	keep := s
	if !keepThis {
		keep = nil
	}
	n, err := sessions.DestroyOwner(r.Context(), d.m, user, keep)
	if err != nil {
		http.Error(w, "could not sign out your devices; try again", http.StatusServiceUnavailable)
		return
	}
	if !keepThis {
		s.Destroy() // this session is gone from the store; clear its cookie
	}
	s.Set("flash", signedOutMessage(n, keepThis))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func signedOutMessage(n int, kept bool) string {
	switch {
	case !kept:
		return "Signed out everywhere."
	case n == 1:
		return "Signed out of 1 other device."
	}
	return fmt.Sprintf("Signed out of %d other devices.", n)
}
