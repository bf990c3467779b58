package httpsession_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
	"github.com/httpsession/httpsession/store/filestore"
)

// embeddedStores are the stores that need no server.
func embeddedStores() map[string]func(t *testing.T) httpsession.Store {
	return map[string]func(t *testing.T) httpsession.Store{
		"memstore": func(t *testing.T) httpsession.Store { return newMemStore(t) },
		"filestore": func(t *testing.T) httpsession.Store {
			s, err := filestore.New(filepath.Join(t.TempDir(), "sessions"), filestore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"boltstore": func(t *testing.T) httpsession.Store {
			s, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), boltstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

// Concurrent requests on one session all keep their changes: 50 increments
// of one counter end at 50, and 20 puts of distinct keys all land.
func TestConcurrentRequestsOneSession(t *testing.T) {
	for name, newStore := range embeddedStores() {
		t.Run(name, func(t *testing.T) {
			m, cs, _ := newManager(t, httpsession.Config{Store: newStore(t), StoreTimeout: 30 * time.Second})
			srv := httptest.NewServer(m.Handler(api()))
			defer srv.Close()
			c := client(t)
			if code, _ := send(t, c, "POST", srv.URL+"/put?key=start&value=1"); code != 200 {
				t.Fatal(code)
			}
			cs.reset()

			var wg sync.WaitGroup
			errs := make(chan error, 70)
			for i := range 70 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					url := srv.URL + "/count"
					if i >= 50 {
						url = fmt.Sprintf("%s/put?key=k%d&value=%d", srv.URL, i-50, i)
					}
					req, _ := http.NewRequest("POST", url, nil)
					resp, err := c.Do(req)
					if err != nil {
						errs <- err
						return
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs <- fmt.Errorf("%s: status %d", url, resp.StatusCode)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}

			s, err := m.Load(t.Context(), tokenOf(t, c, srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := httpsession.Get[int64](s, "n"); n != 50 {
				t.Errorf("counter = %d after 50 concurrent increments", n)
			}
			for i := range 20 {
				if got := s.Get("k" + strconv.Itoa(i)); got != strconv.Itoa(50+i) {
					t.Errorf("k%d = %v, lost", i, got)
				}
			}
			t.Logf("70 requests: %d puts (%d conflicts retried), %d gets", cs.puts.Load(), cs.puts.Load()-70, cs.gets.Load())
		})
	}
}

func tokenOf(t *testing.T, c *http.Client, base string) string {
	req, _ := http.NewRequest("GET", base, nil)
	for _, ck := range c.Jar.Cookies(req.URL) {
		if ck.Name == "session" {
			return ck.Value
		}
	}
	t.Fatal("no session cookie in the jar")
	return ""
}

// The conflict backoff is the request path's only wait, and it goes
// through the Manager's sleep: replaced, it is called once per conflict.
func TestConflictSleepIsReplaceable(t *testing.T) {
	m, _, _ := newManager(t, httpsession.Config{})
	var sleeps atomic.Int64
	httpsession.SetConflictSleep(m, func(ctx context.Context, d time.Duration) error {
		sleeps.Add(1)
		runtime.Gosched()
		return ctx.Err()
	})
	srv := httptest.NewServer(m.Handler(api()))
	defer srv.Close()
	c := client(t)
	send(t, c, "POST", srv.URL+"/count")
	var wg sync.WaitGroup
	for range 30 {
		wg.Go(func() { send(t, c, "POST", srv.URL+"/count") })
	}
	wg.Wait()
	if _, body := send(t, c, "POST", srv.URL+"/count"); body != "32" {
		t.Fatalf("counter %s after 32 increments", body)
	}
	if got, want := sleeps.Load(), int64(m.Stats().Conflicts); got != want {
		t.Fatalf("%d sleeps for %d conflicts", got, want)
	}
	t.Logf("%d conflicts", sleeps.Load())
}
