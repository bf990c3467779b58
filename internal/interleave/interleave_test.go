package interleave

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// access is a step of the test programs: a read or write of one variable.
type access struct {
	write bool
	key   string
}

func independent(a, b access) bool { return a.key != b.key || !a.write && !b.write }

// instr is one instruction of a test thread: read a variable into the
// thread's accumulator, or write accumulator+add to it; skipIfOdd skips the
// next instruction when the accumulator is odd, so the steps a thread takes
// depend on what it read.
type instr struct {
	write     bool
	key       string
	add       int
	skipIfOdd bool
}

type prog [][]instr

func randomProg(r *rand.Rand, threads, length int, keys string) prog {
	p := make(prog, threads)
	for t := range p {
		for range length {
			p[t] = append(p[t], instr{
				write:     r.IntN(2) == 0,
				key:       string(keys[r.IntN(len(keys))]),
				add:       1 + r.IntN(3),
				skipIfOdd: r.IntN(3) == 0,
			})
		}
	}
	return p
}

// run executes p under s and returns the final state as a string: the
// variables and each thread's accumulator.
func (p prog) run(s *Sched[access]) string {
	vars := map[string]int{}
	acc := make([]int, len(p))
	for t, code := range p {
		s.Go(func() {
			for pc := 0; pc < len(code); pc++ {
				in := code[pc]
				s.Point(access{write: in.write, key: in.key})
				if in.write {
					vars[in.key] = acc[t] + in.add
				} else {
					acc[t] = vars[in.key]
				}
				if in.skipIfOdd && acc[t]%2 == 1 {
					pc++
				}
			}
		})
	}
	s.Wait()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		fmt.Fprintf(&b, "%s=%d ", k, vars[k])
	}
	fmt.Fprint(&b, acc)
	return b.String()
}

// normalForm is the lexicographically least schedule equivalent to trace
// under independent: the canonical name of its Mazurkiewicz trace.
func normalForm(trace []Choice[access]) string {
	n := len(trace)
	placed := make([]bool, n)
	var b strings.Builder
	for range n {
		best := -1
		for j := range n {
			if placed[j] {
				continue
			}
			ready := true
			for i := range j {
				if !placed[i] && (trace[i].Thread == trace[j].Thread || !independent(trace[i].Step, trace[j].Step)) {
					ready = false
					break
				}
			}
			if ready && (best < 0 || trace[j].Thread < trace[best].Thread) {
				best = j
			}
		}
		placed[best] = true
		fmt.Fprintf(&b, "%d%v%s ", trace[best].Thread, trace[best].Step.write, trace[best].Step.key)
	}
	return b.String()
}

type outcome struct {
	finals map[string]bool
	forms  map[string]int
	stats  Stats
}

func explore(p prog, e *Explorer[access]) outcome {
	o := outcome{finals: map[string]bool{}, forms: map[string]int{}}
	o.stats = e.Explore(func(s *Sched[access], complete func() bool) {
		final := p.run(s)
		if complete() {
			o.finals[final] = true
			o.forms[normalForm(s.Trace())]++
		}
	})
	return o
}

// Sleep sets explore every trace of random programs exactly once, and reach
// every final state that running all interleavings reaches.
func TestSleepSetsAgainstAllInterleavings(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		threads, length := 2, 2+i%3
		if i%2 == 1 {
			threads, length = 3, 2+i%2
		}
		p := randomProg(r, threads, length, "xyz"[:1+i%3])
		all := explore(p, &Explorer[access]{})
		pruned := explore(p, &Explorer[access]{Independent: independent})

		if !maps.Equal(all.finals, pruned.finals) {
			t.Fatalf("program %d %v: final states differ\nall:    %v\npruned: %v", i, p, all.finals, pruned.finals)
		}
		if len(pruned.forms) != len(all.forms) {
			t.Fatalf("program %d: %d traces explored, all interleavings have %d", i, len(pruned.forms), len(all.forms))
		}
		for f, n := range pruned.forms {
			if n != 1 {
				t.Fatalf("program %d: trace %s explored %d times", i, f, n)
			}
		}
		if pruned.stats.Schedules != len(all.forms) {
			t.Fatalf("program %d: %d schedules for %d traces", i, pruned.stats.Schedules, len(all.forms))
		}
		if all.stats.Pruned != 0 {
			t.Fatalf("program %d: %d runs pruned without an independence relation", i, all.stats.Pruned)
		}
	}
}

// With every step dependent, three threads of two steps have 6!/(2!2!2!)
// interleavings.
func TestCountsAllInterleavings(t *testing.T) {
	p := prog{
		{{write: true, key: "x"}, {write: true, key: "x"}},
		{{write: true, key: "x"}, {write: true, key: "x"}},
		{{write: true, key: "x"}, {write: true, key: "x"}},
	}
	if st := explore(p, &Explorer[access]{Independent: independent}).stats; st.Schedules != 90 || st.Pruned != 0 || st.MaxDepth != 6 {
		t.Fatalf("got %+v, want 90 schedules, none pruned, depth 6", st)
	}
	q := prog{
		{{write: true, key: "x"}, {write: true, key: "x"}},
		{{write: true, key: "y"}, {write: true, key: "y"}},
		{{key: "z"}, {key: "z"}},
	}
	if st := explore(q, &Explorer[access]{Independent: independent}).stats; st.Schedules != 1 {
		t.Fatalf("threads on distinct variables: got %+v, want 1 schedule", st)
	}
}

func TestReplay(t *testing.T) {
	p := prog{
		{{key: "x"}, {write: true, key: "x", add: 1}},
		{{key: "x"}, {write: true, key: "x", add: 1}},
	}
	var final string
	if err := Replay([]int{0, 1, 0, 1}, func(s *Sched[access]) { final = p.run(s) }); err != nil {
		t.Fatal(err)
	}
	if final != "x=1 [0 0]" {
		t.Fatalf("lost update schedule: got %q", final)
	}
	if err := Replay([]int{0, 0, 1, 1}, func(s *Sched[access]) { final = p.run(s) }); err != nil || final != "x=2 [0 1]" {
		t.Fatalf("serial schedule: got %q, %v", final, err)
	}
	if err := Replay([]int{0, 0, 0}, func(s *Sched[access]) { p.run(s) }); err == nil {
		t.Fatal("a pick of a finished thread was accepted")
	}
}

func TestNondeterminismDetected(t *testing.T) {
	runs := 0
	defer func() {
		if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "not deterministic") {
			t.Fatalf("got %v, want a panic naming nondeterminism", v)
		}
	}()
	(&Explorer[access]{}).Explore(func(s *Sched[access], _ func() bool) {
		runs++
		key := fmt.Sprint(runs)
		s.Go(func() { s.Point(access{key: key}) })
		s.Go(func() { s.Point(access{key: "y"}) })
		s.Wait()
	})
}

func TestPanicsReported(t *testing.T) {
	err := Replay([]int{0}, func(s *Sched[access]) {
		s.Go(func() { s.Point(access{}); panic("boom") })
		s.Wait()
		if p := s.Panics(); p[0] != "boom" {
			t.Errorf("panics = %v", p)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}
