package sessions_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/sessions"
	"github.com/httpsession/httpsession/store/memstore"
)

// A "sign out everywhere else" button: the handler lists the user's
// sessions and ends all of them but the one of the request.
func Example() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := httpsession.New(httpsession.Config{Store: store, Client: httpsession.Client{Record: true}})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		s.Renew()
		s.SetOwner("ann") // the user the password was checked for
	})
	mux.HandleFunc("POST /signout-others", func(w http.ResponseWriter, r *http.Request) {
		s := httpsession.SessionFrom(r.Context())
		list, err := sessions.Of(r.Context(), m, s.Owner())
		if err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		n, err := sessions.DestroyOwner(r.Context(), m, s.Owner(), s)
		if err != nil {
			http.Error(w, "try again later", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "%d sessions, %d signed out", len(list), n)
	})
	h := m.Handler(mux)

	// Ann logs in from a phone and a laptop, then signs out the phone from
	// the laptop.
	var laptop *http.Cookie
	for _, device := range []string{"phone", "laptop"} {
		r := httptest.NewRequest("POST", "/login", nil)
		r.Header.Set("User-Agent", device)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		laptop = w.Result().Cookies()[0]
	}
	r := httptest.NewRequest("POST", "/signout-others", nil)
	r.AddCookie(laptop)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(w.Body.String())

	left, _ := sessions.Of(context.Background(), m, "ann")
	for _, info := range left {
		fmt.Println("left:", info.UserAgent)
	}
	// Output:
	// 2 sessions, 1 signed out
	// left: laptop
}
