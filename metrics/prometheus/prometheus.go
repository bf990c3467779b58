// Package prometheus exports the counters of an httpsession.Manager to
// Prometheus.
//
// The collector reads Manager.Stats when Prometheus scrapes, so it keeps no
// state and starts no goroutine. Register it once per Manager:
//
//	import (
//		prom "github.com/prometheus/client_golang/prometheus"
//		sessionmetrics "github.com/httpsession/httpsession/metrics/prometheus"
//	)
//
//	prom.MustRegister(sessionmetrics.NewCollector(m, "httpsession"))
//
// It exports these counters, each named namespace_NAME:
//
//	loads_total         sessions read from the store
//	saves_total         sessions written to the store
//	conflicts_total     writes retried after a version conflict
//	touches_total       idle expiries slid without a rewrite
//	store_errors_total  failed store calls
//	created_total       new sessions saved
//	renewed_total       session tokens renewed
//	destroyed_total     sessions destroyed
//	expired_total       sessions found expired on load
//
// A program with two Managers registers each under its own namespace, or
// both under one namespace with a label that tells them apart, which every
// one of them must then carry:
//
//	prom.WrapRegistererWith(prom.Labels{"manager": "users"}, reg).MustRegister(sessionmetrics.NewCollector(users, ""))
//	prom.WrapRegistererWith(prom.Labels{"manager": "admins"}, reg).MustRegister(sessionmetrics.NewCollector(admins, ""))
package prometheus

import (
	"fmt"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/metrics"
	prom "github.com/prometheus/client_golang/prometheus"
)

// counters are the exported counters, in the order of metrics.Stats.
var counters = []struct {
	name, help string
	value      func(metrics.Stats) uint64
}{
	{"loads_total", "Sessions read from the store.", func(s metrics.Stats) uint64 { return s.Loads }},
	{"saves_total", "Sessions written to the store.", func(s metrics.Stats) uint64 { return s.Saves }},
	{"conflicts_total", "Session writes retried after a version conflict.", func(s metrics.Stats) uint64 { return s.Conflicts }},
	{"touches_total", "Session idle expiries slid without a rewrite.", func(s metrics.Stats) uint64 { return s.Touches }},
	{"store_errors_total", "Failed session store calls.", func(s metrics.Stats) uint64 { return s.StoreErrors }},
	{"created_total", "New sessions saved.", func(s metrics.Stats) uint64 { return s.Created }},
	{"renewed_total", "Session tokens renewed.", func(s metrics.Stats) uint64 { return s.Renewed }},
	{"destroyed_total", "Sessions destroyed.", func(s metrics.Stats) uint64 { return s.Destroyed }},
	{"expired_total", "Sessions found expired on load.", func(s metrics.Stats) uint64 { return s.Expired }},
}

// collector is the prom.Collector that NewCollector returns.
type collector struct {
	m     *httpsession.Manager
	descs []*prom.Desc // one per entry of counters
	err   error        // a bad namespace: the descs are invalid
}

// NewCollector returns a Prometheus collector of m's counters, named
// namespace_loads_total and so on; an empty namespace means
// "httpsession". The namespace must be a classic metric name: ASCII
// letters, digits, _ and :, not starting with a digit. Registering a
// collector with any other namespace fails with an error that says so.
func NewCollector(m *httpsession.Manager, namespace string) prom.Collector {
	if namespace == "" {
		namespace = "httpsession"
	}
	c := &collector{m: m, descs: make([]*prom.Desc, len(counters))}
	if !classicName(namespace) {
		c.err = fmt.Errorf("httpsession/metrics/prometheus: namespace %q is not a metric name (ASCII letters, digits, _ and :, not starting with a digit)", namespace)
	}
	for i, k := range counters {
		if c.err != nil {
			c.descs[i] = prom.NewInvalidDesc(c.err)
			continue
		}
		c.descs[i] = prom.NewDesc(prom.BuildFQName(namespace, "", k.name), k.help, nil, nil)
	}
	return c
}

// classicName reports whether s matches [a-zA-Z_:][a-zA-Z0-9_:]*, the names
// every Prometheus version and every exposition format accepts.
func classicName(s string) bool {
	for i, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == ':' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// Describe sends the descriptions of every counter.
func (c *collector) Describe(ch chan<- *prom.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the Manager's counters and sends them.
func (c *collector) Collect(ch chan<- prom.Metric) {
	if c.err != nil {
		ch <- prom.NewInvalidMetric(c.descs[0], c.err)
		return
	}
	st := c.m.Stats()
	for i, k := range counters {
		ch <- prom.MustNewConstMetric(c.descs[i], prom.CounterValue, float64(k.value(st)))
	}
}
