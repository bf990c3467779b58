package main

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/httpsession/httpsession"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>httpsession example</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
.flash{background:#eef6ee;border:1px solid #8b8;padding:.5rem 1rem}
form{display:inline-block;margin:.25rem 0}</style></head><body>
<h1>httpsession example</h1>
{{with .Flash}}<p class="flash" id="flash">{{.}}</p>{{end}}
<p id="visits">You have seen this page {{.Visits}} time{{if ne .Visits 1}}s{{end}} in this session.</p>
{{if .User}}
<p id="user">Signed in as <b>{{.User}}</b>.</p>
<p><a href="/devices" id="devices-link">Your devices</a></p>
<form method="post" action="/logout"><button id="logout">Sign out</button></form>
{{else}}
<form method="post" action="/login"><label>User name <input name="user" id="name" required maxlength="64"></label>
<button id="login">Sign in</button></form>
{{end}}
<h2>Cart</h2>
{{if .Cart}}<ul id="cart">{{range .Cart}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>Your cart is empty.</p>{{end}}
<form method="post" action="/cart"><select name="item"><option>apple</option><option>bread</option><option>cheese</option></select>
<button id="add">Add to cart</button></form>
</body></html>`))

func home(w http.ResponseWriter, r *http.Request) {
	s := httpsession.SessionFrom(r.Context())
	data := struct {
		Visits int64
		User   string
		Flash  any
		Cart   []string
	}{
		Visits: s.Incr("visits", 1),
		Flash:  s.Pop("flash"),
	}
	data.User, _ = httpsession.Get[string](s, "user")
	if cart, _ := httpsession.Get[string](s, "cart"); cart != "" {
		data.Cart = strings.Split(cart, ",")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	page.Execute(w, data)
}

func login(w http.ResponseWriter, r *http.Request) {
	user := strings.TrimSpace(r.PostFormValue("user"))
	if user == "" || len(user) > 64 {
		http.Error(w, "a user name of 1 to 64 characters, please", http.StatusBadRequest)
		return
	}
	s := httpsession.SessionFrom(r.Context())
	signIn(s, user)
	s.Set("flash", "Welcome, "+user+".")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func logout(w http.ResponseWriter, r *http.Request) {
	s := httpsession.SessionFrom(r.Context())
	s.Destroy()
	s.Set("flash", "You are signed out.") // goes to a brand-new session
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

var items = map[string]bool{"apple": true, "bread": true, "cheese": true}

func addToCart(w http.ResponseWriter, r *http.Request) {
	item := r.PostFormValue("item")
	if !items[item] {
		http.Error(w, "unknown item", http.StatusBadRequest)
		return
	}
	s := httpsession.SessionFrom(r.Context())
	s.Update("cart", func(old any) any {
		if cart, _ := old.(string); cart != "" {
			return cart + "," + item
		}
		return item
	})
	s.Set("flash", "Added "+item+" to your cart.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
