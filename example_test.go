package httpsession_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

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
