package prometheus_test

import (
	"bufio"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/httpsession/httpsession"
	sessionmetrics "github.com/httpsession/httpsession/metrics/prometheus"
	"github.com/httpsession/httpsession/store/memstore"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The collector is registered once and read at every scrape of /metrics.
// With the default registry it is prom.MustRegister(collector) and
// mux.Handle("GET /metrics", promhttp.Handler()).
func Example() {
	store := memstore.New(memstore.Options{})
	defer store.Close()
	m, err := httpsession.New(httpsession.Config{Store: store})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	reg := prom.NewRegistry()
	reg.MustRegister(sessionmetrics.NewCollector(m, "httpsession"))

	app := http.NewServeMux()
	app.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpsession.SessionFrom(r.Context()).Incr("visits", 1)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", m.Handler(app))

	for range 3 { // three visitors without cookies: three new sessions
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	lines := bufio.NewScanner(w.Body)
	for lines.Scan() {
		if l := lines.Text(); strings.HasPrefix(l, "httpsession_created_total") || strings.HasPrefix(l, "httpsession_saves_total") {
			fmt.Println(l)
		}
	}
	// Output:
	// httpsession_created_total 3
	// httpsession_saves_total 3
}
