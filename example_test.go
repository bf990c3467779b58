package httpsession_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memstore"
)

func Example() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := httpsession.New(httpsession.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n := httpsession.SessionFrom(r.Context()).Incr("visits", 1)
		fmt.Fprintf(w, "visit %d", n)
	})
	h := m.Handler(mux)

	// Two requests from one browser: the second sends the first's cookie.
	var cookie *http.Cookie
	for range 2 {
		r := httptest.NewRequest("GET", "/", nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if c := w.Result().Cookies(); len(c) > 0 {
			cookie = c[0]
		}
		body, _ := io.ReadAll(w.Result().Body)
		fmt.Println(string(body))
	}
	// Output:
	// visit 1
	// visit 2
}

// Update is a read-modify-write that survives concurrent requests: if the
// save meets another request's change, the function runs again on the fresh
// value.
func ExampleSession_Update() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, _ := httpsession.New(httpsession.Config{Store: store})
	defer m.Close()

	s, _ := m.Load(context.Background(), "")
	s.Update("cart", func(old any) any {
		items, _ := old.([]string)
		return append(items, "apple")
	})
	fmt.Println(s.Get("cart"))
	// Output: [apple]
}

// Load and Save work outside HTTP handlers, for websocket loops and jobs.
func ExampleManager_Load() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, _ := httpsession.New(httpsession.Config{Store: store})
	defer m.Close()
	ctx := context.Background()

	s, _ := m.Load(ctx, "") // no token: a new session
	s.Set("job", "done")
	if err := m.Save(ctx, s); err != nil {
		log.Fatal(err)
	}
	again, _ := m.Load(ctx, s.Token())
	fmt.Println(again.IsNew(), again.Get("job"))
	// Output: false done
}

// post sends one request through h with the cookies given and returns the
// response.
func post(h http.Handler, target string, cookies ...*http.Cookie) *http.Response {
	r := httptest.NewRequest("POST", target, nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

// A "remember me" login: the session gets its own lifetime and a
// persistent cookie, and keeps both across later Renews; a plain login
// gets a cookie that ends with the browser session.
func ExampleSession_SetLifetime() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, _ := httpsession.New(httpsession.Config{Store: store, Lifetime: 12 * time.Hour})
	defer m.Close()

	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Renew()
		s.Set("user", r.FormValue("user"))
		if r.FormValue("remember") == "1" {
			s.SetLifetime(30*24*time.Hour, true)
		}
	}))
	for _, target := range []string{"/login?user=ann&remember=1", "/login?user=bob"} {
		c := post(h, target).Cookies()[0]
		fmt.Printf("%s: Max-Age %d days\n", target, c.MaxAge/86400)
	}
	// Output:
	// /login?user=ann&remember=1: Max-Age 30 days
	// /login?user=bob: Max-Age 0 days
}

// Save inside a handler writes the session before a redirect and puts
// the new token on the redirect response.
func ExampleManager_Save() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, _ := httpsession.New(httpsession.Config{Store: store})
	defer m.Close()

	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Set("flash", "saved")
		if err := m.Save(r.Context(), s); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		fmt.Println("status:", s.Status())
		http.Redirect(w, r, "/next", http.StatusSeeOther)
	}))
	resp := post(h, "/form")
	fmt.Println(resp.StatusCode, resp.Cookies()[0].Name)
	// Output:
	// status: modified
	// 303 session
}

// Two Managers on one chain, each with its own cookie: a short login
// session and a long-lived preferences session. Each handler reaches
// either with Manager.From.
func ExampleManager_From() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	auth, _ := httpsession.New(httpsession.Config{Store: store, Transport: &httpsession.Cookie{Name: "auth"}})
	defer auth.Close()
	prefs, _ := httpsession.New(httpsession.Config{Store: store, Lifetime: 365 * 24 * time.Hour,
		Transport: &httpsession.Cookie{Name: "prefs", Persist: true}})
	defer prefs.Close()

	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if theme := r.FormValue("theme"); theme != "" {
			prefs.From(r.Context()).Set("theme", theme)
			auth.From(r.Context()).Set("user", "ann")
		}
		fmt.Fprint(w, auth.From(r.Context()).Get("user"), " ", prefs.From(r.Context()).Get("theme"))
	})
	h := auth.Handler(prefs.Handler(app))

	cookies := post(h, "/?theme=dark").Cookies()
	for _, c := range cookies {
		fmt.Println(c.Name)
	}
	body, _ := io.ReadAll(post(h, "/", cookies...).Body)
	fmt.Println(string(body))
	// Output:
	// prefs
	// auth
	// ann dark
}

// Cookie configures the default transport: a __Host- name, signing keys
// (the first signs, all verify, so keys rotate) and the Partitioned
// attribute for an embedded site.
func ExampleCookie() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := httpsession.New(httpsession.Config{
		Store: store,
		Transport: &httpsession.Cookie{
			Name:        "__Host-session",
			Secure:      true,
			Partitioned: true,
			Keys:        []httpsession.Key{{Hash: []byte("a 32-byte (or longer) secret key")}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set("seen", true)
	}))
	c := post(h, "/").Cookies()[0]
	fmt.Println(c.Name, c.Secure, c.HttpOnly, c.Partitioned)
	// Output: __Host-session true true true
}
