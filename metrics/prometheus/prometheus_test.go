package prometheus_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/httpsession/httpsession"
	sessionmetrics "github.com/httpsession/httpsession/metrics/prometheus"
	"github.com/httpsession/httpsession/store/memstore"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// newApp returns a Manager on a memstore and an app behind its middleware
// that counts visits, renews on /login and destroys on /logout.
func newApp(t *testing.T) (*httpsession.Manager, http.Handler) {
	t.Helper()
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close() })
	m, err := httpsession.New(httpsession.Config{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("/visit", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Incr("visits", 1)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Renew()
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Destroy()
	})
	return m, m.Handler(mux)
}

// get sends a request with cookie (if not nil) and returns the session
// cookie of the response, or cookie again if the response set none.
func get(h http.Handler, path string, cookie *http.Cookie) *http.Cookie {
	r := httptest.NewRequest("GET", path, nil)
	if cookie != nil {
		r.AddCookie(cookie)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	for _, c := range w.Result().Cookies() {
		return c
	}
	return cookie
}

func TestCollector(t *testing.T) {
	m, h := newApp(t)
	c := sessionmetrics.NewCollector(m, "")

	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP httpsession_loads_total Sessions read from the store.
# TYPE httpsession_loads_total counter
httpsession_loads_total 0
`), "httpsession_loads_total"); err != nil {
		t.Error(err)
	}

	ann := get(h, "/visit", nil) // created, saved
	ann = get(h, "/visit", ann)  // loaded, saved
	ann = get(h, "/login", ann)  // loaded, renewed, saved
	get(h, "/logout", ann)       // loaded, destroyed, saved
	bob := get(h, "/visit", nil) // created, saved
	get(h, "/visit", bob)        // loaded, saved
	get(h, "/visit", nil)        // created, saved

	want := m.Stats()
	if want.Loads != 4 || want.Saves != 6 || want.Created != 3 || want.Renewed != 1 || want.Destroyed != 1 {
		t.Fatalf("the requests did not count as expected: %+v", want)
	}
	expected := `
# HELP httpsession_conflicts_total Session writes retried after a version conflict.
# TYPE httpsession_conflicts_total counter
httpsession_conflicts_total 0
# HELP httpsession_created_total New sessions saved.
# TYPE httpsession_created_total counter
httpsession_created_total 3
# HELP httpsession_destroyed_total Sessions destroyed.
# TYPE httpsession_destroyed_total counter
httpsession_destroyed_total 1
# HELP httpsession_expired_total Sessions found expired on load.
# TYPE httpsession_expired_total counter
httpsession_expired_total 0
# HELP httpsession_loads_total Sessions read from the store.
# TYPE httpsession_loads_total counter
httpsession_loads_total 4
# HELP httpsession_renewed_total Session tokens renewed.
# TYPE httpsession_renewed_total counter
httpsession_renewed_total 1
# HELP httpsession_saves_total Sessions written to the store.
# TYPE httpsession_saves_total counter
httpsession_saves_total 6
# HELP httpsession_store_errors_total Failed session store calls.
# TYPE httpsession_store_errors_total counter
httpsession_store_errors_total 0
# HELP httpsession_touches_total Session idle expiries slid without a rewrite.
# TYPE httpsession_touches_total counter
httpsession_touches_total 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(expected)); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(c); n != 9 {
		t.Errorf("%d metrics, want 9", n)
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

func TestRegistration(t *testing.T) {
	m, h := newApp(t)
	get(h, "/visit", nil)

	// A pedantic registry checks that Collect sends what Describe says.
	reg := prom.NewPedanticRegistry()
	reg.MustRegister(sessionmetrics.NewCollector(m, "shop"))
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP shop_created_total New sessions saved.
# TYPE shop_created_total counter
shop_created_total 1
`), "shop_created_total"); err != nil {
		t.Error(err)
	}
	// The same names again conflict.
	if err := reg.Register(sessionmetrics.NewCollector(m, "shop")); err == nil {
		t.Error("registering the same namespace twice succeeded")
	}

	// Two Managers under one namespace, told apart by a label.
	other, h2 := newApp(t)
	get(h2, "/visit", nil)
	get(h2, "/visit", nil)
	reg = prom.NewPedanticRegistry()
	for name, m := range map[string]*httpsession.Manager{"users": m, "admins": other} {
		wrapped := prom.WrapRegistererWith(prom.Labels{"manager": name}, reg)
		if err := wrapped.Register(sessionmetrics.NewCollector(m, "")); err != nil {
			t.Errorf("Manager %s: %v", name, err)
		}
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP httpsession_created_total New sessions saved.
# TYPE httpsession_created_total counter
httpsession_created_total{manager="admins"} 2
httpsession_created_total{manager="users"} 1
`), "httpsession_created_total"); err != nil {
		t.Error(err)
	}
}

func TestBadNamespace(t *testing.T) {
	m, _ := newApp(t)
	for _, ns := range []string{"not-a-name", "1st", "näme", "a b"} {
		err := prom.NewRegistry().Register(sessionmetrics.NewCollector(m, ns))
		if err == nil || !strings.Contains(err.Error(), "is not a metric name") {
			t.Errorf("namespace %q: Register = %v", ns, err)
		}
	}
	for _, ns := range []string{"shop", "my_app:sessions", "_x9"} {
		if err := prom.NewRegistry().Register(sessionmetrics.NewCollector(m, ns)); err != nil {
			t.Errorf("namespace %q: %v", ns, err)
		}
	}
}
