package admin_test

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/admin"
	"github.com/httpsession/httpsession/store/memstore"
)

// An operator, or a program in any language, lists and ends the sessions
// of a user through the admin handler mounted at /admin.
func Example() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := httpsession.New(httpsession.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	// A session of ann, as the app's login handler would make it.
	ctx := context.Background()
	s, _ := m.Load(ctx, "")
	s.SetOwner("ann")
	s.Set("user", "ann")
	if err := m.Save(ctx, s); err != nil {
		log.Fatal(err)
	}

	const password = "correct horse battery staple" // from a secret store in real life
	// Digests have one length, so comparing them takes the same time
	// whatever the length of a guess.
	want := sha256.Sum256([]byte(password))
	h, err := admin.New(m, admin.Options{
		Prefix: "/admin",
		Authorize: func(r *http.Request) bool {
			user, pass, ok := r.BasicAuth()
			got := sha256.Sum256([]byte(pass))
			return ok && user == "ops" && subtle.ConstantTimeCompare(got[:], want[:]) == 1
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", h) // not wrapped in m.Handler: it has no session of its own

	call := func(method, target string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		r.SetBasicAuth("ops", password)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	var list struct {
		Sessions []httpsession.SessionInfo `json:"sessions"`
	}
	w := call("GET", "/admin/owners/ann")
	json.Unmarshal(w.Body.Bytes(), &list)
	fmt.Println(w.Code, len(list.Sessions), list.Sessions[0].Owner)

	fmt.Print(call("DELETE", "/admin/owners/ann").Body)
	fmt.Println(call("GET", "/admin/sessions/"+list.Sessions[0].Key).Code)
	// Output:
	// 200 1 ann
	// {"destroyed":1}
	// 404
}
