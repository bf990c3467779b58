package open_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/open"
)

func TestSQLParams(t *testing.T) {
	dir := t.TempDir()
	bad := map[string]string{
		"?max_conns=0":                  "max_conns=0",
		"?max_conns=x":                  "max_conns=x",
		"?max_idle_conns=-1":            "max_idle_conns=-1",
		"?max_conns=2&max_idle_conns=3": "over max_conns=2",
		"?table=bad-name":               "invalid table name",
		"?table=x%3BDROP":               "invalid table name",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for q, want := range bad {
		t.Run(q, func(t *testing.T) {
			u := "sqlite:" + filepath.Join(dir, "bad.sqlite") + q
			s, closeFn, err := open.Open(ctx, u)
			if err == nil {
				closeFn()
				t.Fatalf("Open(%q) succeeded (%T)", u, s)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("Open(%q): %v, want an error containing %q", u, err, want)
			}
		})
	}

	// The table comes from the URL; the other parameters never reach the
	// driver, which would refuse them.
	path := filepath.Join(dir, "named.sqlite")
	roundTrip(t, "sqlite:"+path+"?table=app_one&max_conns=4&max_idle_conns=2")
	roundTrip(t, "sqlite:"+path+"?table=app_two&_pragma=cache_size(-4000)")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var tables []string
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if strings.Join(tables, ",") != "app_one,app_two" {
		t.Fatalf("tables in the database: %v, want app_one and app_two", tables)
	}
}

// counterServer serves a Manager on s: POST increments the session's
// counter n, GET shows it. Its store timeout is long: 50 writers of one
// session on a loaded machine may retry for tens of seconds.
func counterServer(t *testing.T, s httpsession.Store) *httptest.Server {
	t.Helper()
	m, err := httpsession.New(httpsession.Config{Store: s, StoreTimeout: 3 * time.Minute, CleanupInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	srv := httptest.NewServer(m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := httpsession.SessionFrom(r.Context())
		if r.Method == http.MethodPost {
			sess.Incr("n", 1)
		}
		n, _ := httpsession.Get[int64](sess, "n")
		fmt.Fprint(w, n)
	})))
	t.Cleanup(srv.Close)
	return srv
}

// send makes one request with cookie (if any) and returns the status, the
// body and the session cookie the response set.
func send(c *http.Client, method, url, cookie string) (int, string, string, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, "", "", err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	set := ""
	if cs := resp.Cookies(); len(cs) > 0 {
		set = cs[0].Name + "=" + cs[0].Value
	}
	return resp.StatusCode, string(body), set, err
}

// TestPgBouncer opens a store through PgBouncer in transaction mode by URL
// and makes 50 concurrent increments of one session's counter through the
// middleware: every one of them counts.
func TestPgBouncer(t *testing.T) {
	t.Parallel()
	bouncer := testservice.PgBouncer(t, testservice.Postgres(t))
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			table := "hs_bouncer_" + mode
			s := openStore(t, bouncer.DSN()+"&default_query_exec_mode="+mode+"&table="+table)
			srv := counterServer(t, s)
			c := srv.Client()
			code, _, cookie, err := send(c, "POST", srv.URL, "")
			if err != nil || code != 200 || cookie == "" {
				t.Fatalf("first request: %d, cookie %q, %v", code, cookie, err)
			}
			const n = 50
			var wg sync.WaitGroup
			errs := make(chan string, n)
			for range n {
				wg.Go(func() {
					code, body, _, err := send(c, "POST", srv.URL, cookie)
					if err != nil || code != 200 {
						errs <- fmt.Sprintf("%d %q %v", code, body, err)
					}
				})
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error("increment:", e)
			}
			_, body, _, err := send(c, "GET", srv.URL, cookie)
			if err != nil || body != strconv.Itoa(n+1) {
				t.Fatalf("counter after %d concurrent increments and the first: %q, %v; want %d", n, body, err, n+1)
			}
		})
	}
}

// openStore opens url and closes the store when the test ends.
func openStore(t *testing.T, url string) httpsession.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, closeFn, err := open.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeFn() })
	return s
}

// TestConnectionLimits runs two stores, as two processes of an app would,
// each with 100 concurrent requests, against a server that takes 100
// connections: with the default limit no request meets "too many clients".
// A third store with max_conns=3 never holds more than 3.
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	pg := testservice.Postgres(t, testservice.MaxConnections(100))
	watch, err := sql.Open("pgx", pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	watch.SetMaxOpenConns(1)

	// peak follows the server's client connections of application app
	// while load runs.
	peak := func(app string, load func()) int {
		var (
			max  atomic.Int64
			done = make(chan struct{})
			wg   sync.WaitGroup
		)
		wg.Go(func() {
			for {
				var n int64
				if err := watch.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err == nil && n > max.Load() {
					max.Store(n)
				}
				select {
				case <-done:
					return
				case <-time.After(5 * time.Millisecond):
				}
			}
		})
		load()
		close(done)
		wg.Wait()
		return int(max.Load())
	}

	// hammer sends 100 concurrent clients, 3 requests each, to every
	// server and reports each failure.
	hammer := func(t *testing.T, srvs ...*httptest.Server) {
		var wg sync.WaitGroup
		errs := make(chan string, 100*len(srvs))
		for _, srv := range srvs {
			for range 100 {
				wg.Go(func() {
					c := srv.Client()
					cookie := ""
					for range 3 {
						code, body, set, err := send(c, "POST", srv.URL, cookie)
						if err != nil || code != 200 {
							errs <- fmt.Sprintf("%d %q %v", code, body, err)
							return
						}
						if set != "" {
							cookie = set
						}
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	}

	a := counterServer(t, openStore(t, pg.DSN()+"&application_name=limits"))
	b := counterServer(t, openStore(t, pg.DSN()+"&application_name=limits"))
	n := peak("limits", func() { hammer(t, a, b) })
	t.Logf("two stores with the default limit, 100 concurrent clients each: at most %d server connections", n)
	if n > 2*open.DefaultMaxConns {
		t.Errorf("two stores held %d connections, over twice DefaultMaxConns (%d)", n, open.DefaultMaxConns)
	}

	small := counterServer(t, openStore(t, pg.DSN()+"&application_name=small&max_conns=3&max_idle_conns=1"))
	n = peak("small", func() { hammer(t, small) })
	t.Logf("a store with max_conns=3, 100 concurrent clients: at most %d server connections", n)
	if n > 3 {
		t.Errorf("a store with max_conns=3 held %d connections", n)
	}
}
