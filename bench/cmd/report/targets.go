package main

import (
	"fmt"
	"strings"
)

// targets writes issue 6's targets, and issue 13's for the fat session,
// each met or missed, by how much.
func (r *report) targets() {
	r.p("## Targets of issues 6 and 13\n")
	r.p("Checked on the medians of this run. For a missed target, \"needs\" is how much faster (or leaner) httpsession has to get to meet it.\n")
	r.p("| target | measured | status |")
	r.p("|---|---|---|")
	for _, w := range []string{"W1", "W2", "W3", "W4"} {
		for _, u := range []string{unitNs, unitAllocs} {
			target := fmt.Sprintf("%s: %s on memstore ≤ 0.5× scs-memstore", w, u)
			hs, ok1 := r.med(w, "httpsession-memstore", u)
			sc, ok2 := r.med(w, "scs-memstore", u)
			if !ok1 || !ok2 || sc == 0 {
				r.p("| %s | not run | unknown |", target)
				continue
			}
			r.p("| %s | %s vs %s: %.2f× | %s |", target, fmtUnit(hs, u), fmtUnit(sc, u), hs/sc, verdict(hs/sc, 0.5))
		}
	}
	// Issue 13's floor for the fat session: the bare net/http request
	// that sets a cookie, W1's baseline.
	if hs, ok1 := r.med("W4", "httpsession-memstore", unitNs); ok1 {
		target := "W4: ns/op on memstore ≤ 4× the floor, W1's baseline (issue 13)"
		if fl, ok2 := r.med("W1", "baseline", unitNs); ok2 && fl > 0 {
			r.p("| %s | %s vs %s: %.2f× | %s |", target, fmtNs(hs), fmtNs(fl), hs/fl, verdict(hs/fl, 4))
		} else {
			r.p("| %s | not run | unknown |", target)
		}
	}
	for _, w := range []string{"W2", "W6"} {
		r.storeOpsTarget(w)
	}
	for _, f := range []struct{ adapter, store string }{
		{"httpsession-redisstore", "redis"},
		{"httpsession-memcachestore", "memcache"},
		{"httpsession-sqlstore-postgres", "postgres"},
	} {
		store, op, _ := floorOf(f.adapter, "W3")
		target := fmt.Sprintf("W3 on %s ≤ 1.15× the raw %s floor", f.store, op)
		hs, ok1 := r.med("W3", f.adapter, unitNs)
		fl, ok2 := r.floorMed(store, op)
		if !ok1 || !ok2 {
			r.p("| %s | not run | unknown |", target)
			continue
		}
		measured := fmt.Sprintf("%s vs %s: %.2f×", fmtNs(hs), fmtNs(fl), hs/fl)
		hb, _ := r.cell("W3", f.adapter).best(unitNs)
		if fb, ok := r.micro.floor[[2]string{store, op}].best(unitNs); ok && fb > 0 {
			measured += fmt.Sprintf(" (best rounds: %s vs %s, %.2f×)", fmtNs(hb), fmtNs(fb), hb/fb)
		}
		r.p("| %s | %s | %s |", target, measured, verdict(hs/fl, 1.15))
	}
	for _, route := range []string{"count", "get"} {
		target := fmt.Sprintf("End to end on memstore (%s): requests/s ≥ 1.3× scs", route)
		hs, ok1 := r.e2eRun("httpsession-memstore", route)
		sc, ok2 := r.e2eRun("scs-memstore", route)
		if !ok1 || !ok2 || hs.rps == 0 {
			r.p("| %s | not run | unknown |", target)
			continue
		}
		ratio := hs.rps / sc.rps
		r.p("| %s | %.0f vs %.0f req/s: %.2f× | %s |", target, hs.rps, sc.rps, ratio, verdictAtLeast(ratio, 1.3))
	}
	r.p("")
}

// storeOpsTarget checks that every httpsession adapter made exactly one
// store read and no write per request of work, and for W6 at most one
// Touch per TouchInterval (3 minutes: longer than any run, so at most one
// per run).
func (r *report) storeOpsTarget(work string) {
	target := fmt.Sprintf("%s: exactly 1 store read and 0 writes per request", work)
	if work == "W6" {
		target += ", at most 1 Touch per TouchInterval"
	}
	var bad, good []string
	maxTouches := 0.0
	for _, a := range adapters {
		if !strings.HasPrefix(a, "httpsession-") {
			continue
		}
		c := r.cell(work, a)
		if c == nil {
			continue
		}
		reads, _ := c.median(unitReads)
		writes, _ := c.median(unitWrites)
		name := strings.TrimPrefix(a, "httpsession-")
		for i, t := range c[unitTouches] {
			if i < len(c[unitIters]) {
				maxTouches = max(maxTouches, t*c[unitIters][i])
			}
		}
		if !near(reads, 1) || !near(writes, 0) {
			bad = append(bad, fmt.Sprintf("%s: %s reads, %s writes", name, fmtCount(reads), fmtCount(writes)))
			continue
		}
		good = append(good, name)
	}
	if len(bad)+len(good) == 0 {
		r.p("| %s | not run | unknown |", target)
		return
	}
	measured := fmt.Sprintf("1 read, 0 writes on %s", strings.Join(good, ", "))
	if len(bad) > 0 {
		measured = strings.Join(bad, "; ") + "; " + measured
	}
	if work == "W6" {
		measured += fmt.Sprintf("; at most %.0f Touch in a run", maxTouches)
		if w, ok := r.med(work, "scs-memstore", unitWrites); ok {
			measured += fmt.Sprintf(" (scs-memstore: %s writes per request)", fmtCount(w))
		}
	}
	status := "**met**"
	if len(bad) > 0 || maxTouches > 1 {
		status = "**missed**"
	}
	r.p("| %s | %s | %s |", target, measured, status)
}

func near(x, y float64) bool { return abs(x-y) < 1e-6 }

// verdict says whether ratio is within limit, and by how much it misses.
func verdict(ratio, limit float64) string {
	if ratio <= limit {
		return fmt.Sprintf("**met** (%.0f%% inside)", 100*(1-ratio/limit))
	}
	return fmt.Sprintf("**missed** by %.0f%%: needs %.2f× less", 100*(ratio/limit-1), ratio/limit)
}

// verdictAtLeast says whether ratio reaches least, and by how much it
// misses.
func verdictAtLeast(ratio, least float64) string {
	if ratio >= least {
		return fmt.Sprintf("**met** (%.0f%% over)", 100*(ratio/least-1))
	}
	return fmt.Sprintf("**missed** by %.0f%%: needs %.2f× more", 100*(1-ratio/least), least/ratio)
}

func fmtUnit(v float64, unit string) string {
	if unit == unitNs {
		return fmtNs(v)
	}
	return fmtCount(v) + " " + strings.TrimSuffix(unit, "/op")
}
