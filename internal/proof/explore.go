package proof

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/httpsession/httpsession/internal/interleave"
)

// Counterexample is a schedule that breaks an invariant.
type Counterexample struct {
	Combination Combination
	Schedule    Schedule
	Violations  []Violation
	Steps       string // the run, one readable line per step
}

// Result is the outcome of exploring one combination.
type Result struct {
	Combination Combination
	interleave.Stats
	Failing int // schedules with a violation that is not known
	Known   int // schedules whose every violation is a known one
	// Told counts, over all schedules, the requests that answered 200
	// with their changes dropped because another request had ended or
	// renewed the session, and that learnt it from Status or Save.
	Told int
	// Examples holds the first counterexample of each rule broken, and
	// KnownExamples those whose violations are all known.
	Examples, KnownExamples []Counterexample
}

// Options tune Explore.
type Options struct {
	// MaxRuns stops after this many runs; 0 explores every schedule.
	MaxRuns int
	// Known reports whether a violation is a known one, whose fix is
	// pending: it is counted apart and does not make a schedule failing.
	Known func(Violation) bool
}

// Explore runs every schedule of c and checks each complete one.
func Explore(c Combination, opts Options) Result {
	res := Result{Combination: c}
	seen := map[string]bool{}
	e := interleave.Explorer[step]{Independent: independent, MaxRuns: opts.MaxRuns}
	b := newBacking()
	res.Stats = e.Explore(func(s *interleave.Sched[step], complete func() bool) {
		r := newRun(c, b)
		r.start(s)
		s.Wait()
		if !complete() {
			return
		}
		vs, told := r.check(s.Panics())
		res.Told += told
		if len(vs) == 0 {
			return
		}
		known := opts.Known != nil && !slices.ContainsFunc(vs, func(v Violation) bool { return !opts.Known(v) })
		examples := &res.Examples
		if known {
			res.Known++
			examples = &res.KnownExamples
		} else {
			res.Failing++
		}
		for _, v := range vs {
			if opts.Known != nil && opts.Known(v) != known {
				continue
			}
			if id := fmt.Sprint(known, v.Rule); !seen[id] {
				seen[id] = true
				*examples = append(*examples, Counterexample{
					Combination: c, Schedule: r.schedule(s), Violations: vs, Steps: r.describe(s),
				})
				break
			}
		}
	})
	return res
}

// Check runs c once along schedule and checks the run.
func Check(c Combination, sched Schedule) (Counterexample, error) {
	ce := Counterexample{Combination: c}
	picks, err := sched.picks()
	if err != nil {
		return ce, err
	}
	err = interleave.Replay(picks, func(s *interleave.Sched[step]) {
		r := newRun(c, newBacking())
		r.start(s)
		s.Wait()
		ce.Violations, _ = r.check(s.Panics())
		ce.Schedule, ce.Steps = r.schedule(s), r.describe(s)
	})
	return ce, err
}

// Schedule is a run's order of steps: one thread name per step, r1 to r3
// for the requests and clock for the tick.
type Schedule string

func (r *run) schedule(s *interleave.Sched[step]) Schedule {
	var b []string
	for _, c := range s.Trace() {
		b = append(b, threadName(c.Thread))
	}
	return Schedule(strings.Join(b, " "))
}

func threadName(i int) string {
	if i == 3 {
		return "clock"
	}
	return "r" + strconv.Itoa(i+1)
}

func (s Schedule) picks() ([]int, error) {
	var out []int
	for _, f := range strings.Fields(string(s)) {
		switch f {
		case "r1", "r2", "r3":
			out = append(out, int(f[1]-'1'))
		case "clock":
			out = append(out, 3)
		default:
			return nil, fmt.Errorf("proof: schedule step %q: want r1, r2, r3 or clock", f)
		}
	}
	return out, nil
}

// describe prints the run as numbered steps, with the responses between
// them.
func (r *run) describe(s *interleave.Sched[step]) string {
	var b strings.Builder
	fmt.Fprintf(&b, "combination %v; the session S0 holds %s, idle expiry at +%v\n", r.c, "{origin:s0}", IdleTimeout-SessionAge)
	n := 0
	for _, e := range r.events {
		who := "clock"
		if e.req != nil {
			who = fmt.Sprintf("%s %-10v", e.req.name, e.req.op)
		}
		switch e.kind {
		case evRespond, evReturn:
			b.WriteString("      ")
		default:
			n++
			fmt.Fprintf(&b, "%4d. ", n)
		}
		b.WriteString(who + " " + r.describeEvent(e) + "\n")
	}
	for _, q := range r.reqs {
		fmt.Fprintf(&b, "      %s %v answered %d, client holds %s\n", q.name, q.op, q.status, r.tokenName(r.clientToken(q)))
	}
	fmt.Fprintf(&b, "      store at the end:")
	live := r.liveNodes()
	if len(live) == 0 {
		b.WriteString(" empty")
	}
	for _, n := range live {
		b.WriteString(" " + r.describeNode(n))
	}
	b.WriteString("\n")
	return b.String()
}

func (r *run) describeEvent(e event) string {
	res := func(err error) string {
		if err == nil {
			return "ok"
		}
		msg := err.Error()
		switch {
		case strings.Contains(msg, "conflict"):
			return "conflict"
		case strings.Contains(msg, "not found"):
			return "not found"
		}
		return msg
	}
	k := r.keyName(e.key)
	switch e.kind {
	case evGet:
		if e.err != nil {
			return "Get " + k + " -> " + res(e.err)
		}
		return fmt.Sprintf("Get %s -> %s %s", k, r.ver(e.got), formatValues(decodeValues(e.data)))
	case evPut:
		over := "insert"
		if e.ver != 0 {
			over = "over " + r.ver(e.ver)
		}
		if e.err != nil {
			return fmt.Sprintf("Put %s %s -> %s", k, over, res(e.err))
		}
		return fmt.Sprintf("Put %s %s -> %s %s", k, over, r.ver(e.got), formatValues(e.values))
	case evDelete:
		if e.removed == nil {
			return "Delete " + k + " (nothing there)"
		}
		return fmt.Sprintf("Delete %s (removes %s)", k, r.ver(e.removed.version))
	case evTouch:
		return fmt.Sprintf("Touch %s until %s -> %s", k, rel(e.expires), res(e.err))
	case evArrive:
		return "arrives"
	case evServe:
		return "handler starts"
	case evTick:
		return fmt.Sprintf("time passes: now %s", rel(start.Add(r.tickStep())))
	case evRespond:
		c := ""
		if e.cookie {
			c = " with Set-Cookie"
		}
		return fmt.Sprintf("response starts: %d%s", e.status, c)
	case evReturn:
		return "handler returned"
	}
	return "?"
}

// rel prints a time relative to the requests' arrival.
func rel(t time.Time) string {
	d := t.Sub(start)
	if d < 0 {
		return "-" + (-d).String()
	}
	return "+" + d.String()
}

func formatValues(v map[string]any) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(v)) {
		parts = append(parts, fmt.Sprintf("%s:%v", k, v[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// RegressionFile is the text of a regression case for ce: the
// combination and the schedule, which the package's tests replay, with
// the violations and the steps as comments.
func (ce Counterexample) RegressionFile() string {
	var b strings.Builder
	for _, v := range ce.Violations {
		fmt.Fprintf(&b, "# %v\n", v)
	}
	b.WriteString("#\n")
	for _, line := range strings.Split(strings.TrimRight(ce.Steps, "\n"), "\n") {
		fmt.Fprintf(&b, "# %s\n", line)
	}
	fmt.Fprintf(&b, "combination: %v\nschedule: %s\n", ce.Combination, ce.Schedule)
	return b.String()
}

// Regression is a parsed regression case.
type Regression struct {
	Combination Combination
	Schedule    Schedule
	// Skip, when set, says why the case cannot pass yet.
	Skip string
}

// ParseRegression parses a regression file: comment lines start with #,
// and "combination:", "schedule:" and an optional "skip:" line follow.
func ParseRegression(text string) (Regression, error) {
	var reg Regression
	var haveC, haveS bool
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return reg, fmt.Errorf("proof: regression line %q: want key: value", line)
		}
		v = strings.TrimSpace(v)
		switch k {
		case "combination":
			c, err := ParseCombination(v)
			if err != nil {
				return reg, err
			}
			reg.Combination, haveC = c, true
		case "schedule":
			reg.Schedule, haveS = Schedule(v), true
		case "skip":
			reg.Skip = v
		default:
			return reg, fmt.Errorf("proof: regression line %q: unknown key %q", line, k)
		}
	}
	if !haveC || !haveS {
		return reg, fmt.Errorf("proof: regression needs a combination and a schedule")
	}
	return reg, nil
}
