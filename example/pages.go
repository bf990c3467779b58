package main

import (
	"fmt"
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
{{if .Visits}}<p id="visits">You have seen this page {{.Visits}} time{{if ne .Visits 1}}s{{end}} in this session.</p>
{{else}}<p id="nosession">You have no session yet: one starts when you sign in or add to your cart.</p>{{end}}
{{if .User}}
<p id="user">Signed in as <b>{{.User}}</b>.</p>
<p><a href="/devices" id="devices-link">Your devices</a></p>
<form method="post" action="/logout"><button id="logout">Sign out</button></form>
{{else}}
<form method="post" action="/login"><label>User name <input name="user" id="name" required maxlength="64"></label>
<label><input type="checkbox" name="remember" value="1" id="remember"> Remember me</label>
<button id="login">Sign in</button></form>
{{end}}
<h2>Cart</h2>
{{if .Cart}}<ul id="cart">{{range .Cart}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>Your cart is empty.</p>{{end}}
<form method="post" action="/cart"><select name="item"><option>apple</option><option>bread</option><option>cheese</option></select>
<button id="add">Add to cart</button></form>
</body></html>`))

func home(w http.ResponseWriter, r *http.Request) {
	s := httpsession.SessionFrom(r.Context())
	var data struct {
		Visits int64 // 0: no session
		User   string
		Flash  any
		Cart   []string
	}
	// Only a visitor who has a session gets the visit counted. A first
	// GET reads and stores nothing, so neither crawlers nor a flood of
	// anonymous page views fill the store; a session starts when the
	// visitor does something worth keeping.
	if !s.IsNew() {
		data.Visits = s.Incr("visits", 1)
		data.Flash = s.Pop("flash")
	}
	data.User, _ = httpsession.Get[string](s, "user")
	if cart, _ := httpsession.Get[string](s, "cart"); cart != "" {
		data.Cart = strings.Split(cart, ",")
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	page.Execute(w, data)
}

func login(w http.ResponseWriter, r *http.Request, signIn func(*http.Request, string)) {
	user := strings.TrimSpace(r.PostFormValue("user"))
	if user == "" || len(user) > 64 {
		http.Error(w, "a user name of 1 to 64 characters, please", http.StatusBadRequest)
		return
	}
	signIn(r, user)
	httpsession.SessionFrom(r.Context()).Set("flash", "Welcome, "+user+".")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func logout(w http.ResponseWriter, r *http.Request) {
	s := httpsession.SessionFrom(r.Context())
	s.Destroy()
	s.Set("flash", "You are signed out.") // goes to a brand-new session
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

var items = map[string]bool{"apple": true, "bread": true, "cheese": true}

// maxCart bounds the cart, so that a session cannot grow without end one
// item at a time.
const maxCart = 50

func addToCart(w http.ResponseWriter, r *http.Request) {
	item := r.PostFormValue("item")
	if !items[item] {
		http.Error(w, "unknown item", http.StatusBadRequest)
		return
	}
	s := httpsession.SessionFrom(r.Context())
	// Checked before the update, so two racing requests may pass it
	// together: the cart stays bounded, within a few items of maxCart.
	if cart, _ := httpsession.Get[string](s, "cart"); strings.Count(cart, ",")+1 >= maxCart {
		http.Error(w, fmt.Sprintf("your cart is full (%d items)", maxCart), http.StatusRequestEntityTooLarge)
		return
	}
	s.Update("cart", func(old any) any {
		if cart, _ := old.(string); cart != "" {
			return cart + "," + item
		}
		return item
	})
	s.Set("flash", "Added "+item+" to your cart.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
