package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
)

// The units the harness reports, as go test prints them.
const (
	unitNs      = "ns/op"
	unitBytes   = "B/op"
	unitAllocs  = "allocs/op"
	unitReads   = "reads/op"
	unitWrites  = "writes/op"
	unitTouches = "touches/op"
	unitIters   = "iterations" // b.N of the round, not a go test unit
)

// A cell is one benchmark's samples, one per round, by unit.
type cell map[string][]float64

// median returns the median of the samples of unit, and false when there
// are none.
func (c cell) median(unit string) (float64, bool) {
	s := slices.Clone(c[unit])
	if len(s) == 0 {
		return 0, false
	}
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2], true
	}
	return (s[n/2-1] + s[n/2]) / 2, true
}

// spread returns the interquartile range of the samples of unit as a
// fraction of their median: with five rounds, the range of the middle
// three. One round disturbed by other work on the machine does not widen
// it; the min-to-max range would mostly measure that disturbance.
func (c cell) spread(unit string) float64 {
	med, ok := c.median(unit)
	if !ok || med == 0 {
		return 0
	}
	s := slices.Clone(c[unit])
	slices.Sort(s)
	q1, q3 := s[len(s)/4], s[len(s)-1-len(s)/4]
	return (q3 - q1) / med
}

// best returns the smallest sample of unit: the round least disturbed by
// other work.
func (c cell) best(unit string) (float64, bool) {
	if len(c[unit]) == 0 {
		return 0, false
	}
	return slices.Min(c[unit]), true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// micro holds the results of the micro benchmarks.
type micro struct {
	config  map[string]string
	session map[[2]string]cell // by workload, adapter
	floor   map[[2]string]cell // by store, op
	rounds  int                // the most samples any benchmark has
}

var gomaxprocsSuffix = regexp.MustCompile(`-\d+$`)

func readMicro(path string) (*micro, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &micro{config: map[string]string{}, session: map[[2]string]cell{}, floor: map[[2]string]cell{}}
	r := benchfmt.NewReader(f, path)
	for r.Scan() {
		res, ok := r.Result().(*benchfmt.Result)
		if !ok {
			continue // syntax errors and unit metadata: go test's other lines
		}
		for _, c := range res.Config {
			if c.File {
				m.config[c.Key] = string(c.Value)
			}
		}
		name := gomaxprocsSuffix.ReplaceAllString(string(res.Name.Full()), "")
		parts := keyValues(name)
		var c cell
		switch {
		case strings.HasPrefix(name, "Session/"):
			k := [2]string{parts["work"], parts["adapter"]}
			if m.session[k] == nil {
				m.session[k] = cell{}
			}
			c = m.session[k]
		case strings.HasPrefix(name, "Floor/"):
			k := [2]string{parts["store"], parts["op"]}
			if m.floor[k] == nil {
				m.floor[k] = cell{}
			}
			c = m.floor[k]
		default:
			continue
		}
		c[unitIters] = append(c[unitIters], float64(res.Iters))
		for _, v := range res.Values {
			unit, val := v.Unit, v.Value
			if v.OrigUnit != "" {
				unit, val = v.OrigUnit, v.OrigValue
			}
			c[unit] = append(c[unit], val)
			m.rounds = max(m.rounds, len(c[unit]))
		}
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	if len(m.session) == 0 {
		return nil, fmt.Errorf("%s: no BenchmarkSession results", path)
	}
	return m, nil
}

// keyValues returns the key=value parts of a benchmark name.
func keyValues(name string) map[string]string {
	kv := map[string]string{}
	for _, p := range strings.Split(name, "/") {
		if k, v, ok := strings.Cut(p, "="); ok {
			kv[k] = v
		}
	}
	return kv
}

// e2eRun is one wrk run of e2e.sh.
type e2eRun struct {
	server, route           string
	rps, p50us, p99us       float64
	requests, non2xx, sockE int
}

// readE2E reads e2e.sh's lines of key=value fields.
func readE2E(path string) ([]e2eRun, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var runs []e2eRun
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		kv := map[string]string{}
		for _, field := range strings.Fields(sc.Text()) {
			if k, v, ok := strings.Cut(field, "="); ok {
				kv[k] = v
			}
		}
		if kv["server"] == "" {
			continue
		}
		num := func(k string) float64 {
			v, _ := strconv.ParseFloat(kv[k], 64)
			return v
		}
		runs = append(runs, e2eRun{
			server: kv["server"], route: kv["route"],
			rps: num("rps"), p50us: num("p50_us"), p99us: num("p99_us"),
			requests: int(num("requests")), non2xx: int(num("non2xx")), sockE: int(num("sockerr")),
		})
	}
	return runs, sc.Err()
}
