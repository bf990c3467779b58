package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, httpsession.SessionFrom(r.Context()).Incr("n", 1))
	})
	mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Set(r.URL.Query().Get("key"), r.URL.Query().Get("value"))
	})
	return mux
}

// TestConcurrentRequestsEveryStore sends 50 increments and 20 puts of
// distinct keys to one session at once, through the middleware, on every
// store: the counter must end at 50 and all 20 keys must be there.
func TestConcurrentRequestsEveryStore(t *testing.T) {
	for _, sc := range allStores() {
		// One store at a time: ten stores with 70 requests each at once
		// pushed a loaded 2-core machine past memcached's 500 ms client
		// timeout and MariaDB's conflict retries.
		t.Run(sc.name, func(t *testing.T) {
			m := newManager(t, httpsession.Config{Store: openStore(t, sc.url(t)), StoreTimeout: 20 * time.Second})
			srv := httptest.NewServer(m.Handler(app()))
			defer srv.Close()
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 2 * time.Minute} // generous: a loaded machine
			post := func(path string) error {
				resp, err := c.Post(srv.URL+path, "text/plain", nil)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("%s: status %d", path, resp.StatusCode)
				}
				return nil
			}
			if err := post("/put?key=start&value=1"); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			errs := make(chan error, 70)
			for i := range 70 {
				wg.Go(func() {
					path := "/count"
					if i >= 50 {
						path = fmt.Sprintf("/put?key=k%d&value=%d", i-50, i)
					}
					if err := post(path); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			var token string
			for _, ck := range jar.Cookies(mustURL(srv.URL)) {
				token = ck.Value
			}
			s, err := m.Load(t.Context(), token)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := httpsession.Get[int64](s, "n"); n != 50 {
				t.Errorf("counter = %d after 50 concurrent increments", n)
			}
			for i := range 20 {
				if got := s.Get("k" + strconv.Itoa(i)); got != strconv.Itoa(50+i) {
					t.Errorf("k%d = %v: lost", i, got)
				}
			}
			st := m.Stats()
			t.Logf("%d saves, %d conflicts retried", st.Saves, st.Conflicts)
		})
	}
}
