// Package interleave explores the interleavings of a few threads that share
// state only through scheduling points, by stateless depth-first search with
// sleep sets.
//
// A program under test runs its threads as goroutines started with Sched.Go.
// Each thread calls Sched.Point before every action on shared state,
// announcing the step it is about to take, and blocks there until the
// scheduler picks it. Exactly one thread runs at a time: the one picked last
// runs until it reaches its next point or returns. A run is therefore a
// sequence of picks, and replaying the same picks replays the same run.
//
// Explore runs the program once per schedule, from scratch each time. It
// prunes with sleep sets (Godefroid 1996): two steps of different threads
// that the caller declares independent commute, so of the schedules that
// differ only in their order one is explored. This is sound for the final
// states and for every property of a complete run that does not depend on
// the order of independent steps: every Mazurkiewicz trace of the program is
// explored exactly once. A run in which every enabled thread is asleep
// (sleep-set blocked) repeats a trace already explored; it is finished in a
// fixed order and counted as pruned, never checked.
package interleave

import (
	"fmt"
	"slices"
)

// Choice is one pick of a schedule: the thread that ran and the step it
// announced.
type Choice[S comparable] struct {
	Thread int
	Step   S
}

type thread[S comparable] struct {
	grant   chan struct{}
	step    S
	waiting bool // at a point, not yet picked
	done    bool
	panic   any
}

// Sched controls one run of a program.
type Sched[S comparable] struct {
	threads []*thread[S]
	cur     int
	ev      chan int
	choose  func(enabled []int, steps []S) int
	trace   []Choice[S]
	waited  bool
}

func newSched[S comparable](choose func(enabled []int, steps []S) int) *Sched[S] {
	return &Sched[S]{ev: make(chan int), choose: choose, cur: -1}
}

// Go starts a thread and lets it run to its first point (or to its end)
// before returning, so threads start in the order of the calls. It must be
// called from the program's own goroutine, before Wait.
func (s *Sched[S]) Go(body func()) {
	id := len(s.threads)
	t := &thread[S]{grant: make(chan struct{})}
	s.threads = append(s.threads, t)
	s.cur = id
	go func() {
		defer func() {
			t.panic = recover()
			t.done = true
			s.ev <- id
		}()
		body()
	}()
	<-s.ev
}

// Point announces the calling thread's next step and blocks until the
// scheduler picks it. Only the running thread may call it.
func (s *Sched[S]) Point(step S) {
	t := s.threads[s.cur]
	t.step, t.waiting = step, true
	s.ev <- s.cur
	<-t.grant
}

// Current returns the index of the running thread, in the order of the Go
// calls, or -1 before the first.
func (s *Sched[S]) Current() int { return s.cur }

// Wait runs the threads to their end, one step at a time, in the order the
// explorer picks.
func (s *Sched[S]) Wait() {
	s.waited = true
	var enabled []int
	steps := make([]S, len(s.threads))
	for {
		enabled = enabled[:0]
		for i, t := range s.threads {
			if t.waiting {
				enabled = append(enabled, i)
				steps[i] = t.step
			}
		}
		if len(enabled) == 0 {
			return
		}
		i := s.choose(enabled, steps)
		t := s.threads[i]
		s.trace = append(s.trace, Choice[S]{Thread: i, Step: t.step})
		t.waiting = false
		s.cur = i
		t.grant <- struct{}{}
		<-s.ev
	}
}

// Trace returns the picks of the run so far.
func (s *Sched[S]) Trace() []Choice[S] { return slices.Clone(s.trace) }

// Panics returns, by thread, the values of panics that ended threads
// (nil for a thread that returned).
func (s *Sched[S]) Panics() []any {
	p := make([]any, len(s.threads))
	for i, t := range s.threads {
		p[i] = t.panic
	}
	return p
}

// Explorer enumerates the schedules of a program.
type Explorer[S comparable] struct {
	// Independent reports whether steps a and b of two different threads
	// commute: taken in either order from any state they lead to the same
	// state and give both threads the same results. It must be symmetric.
	// A nil Independent declares every pair dependent, so every
	// interleaving is run.
	Independent func(a, b S) bool
	// MaxRuns stops the exploration after this many runs (complete and
	// pruned); 0 means no limit.
	MaxRuns int
}

// Stats counts the runs of an exploration.
type Stats struct {
	Schedules int  // complete runs, one per Mazurkiewicz trace
	Pruned    int  // sleep-set blocked runs, finished unchecked
	MaxDepth  int  // the most steps in one run
	Truncated bool // MaxRuns stopped the exploration early
}

type node[S comparable] struct {
	enabled []int
	steps   []S // by thread; meaningful for enabled threads
	sleep   []Choice[S]
	done    []int
	chosen  int
}

func (n *node[S]) asleep(id int) bool {
	return slices.ContainsFunc(n.sleep, func(c Choice[S]) bool { return c.Thread == id })
}

// next returns the first enabled thread that is neither asleep nor done,
// preferring prefer.
func (n *node[S]) next(prefer int) (int, bool) {
	ok := func(id int) bool { return !n.asleep(id) && !slices.Contains(n.done, id) }
	if slices.Contains(n.enabled, prefer) && ok(prefer) {
		return prefer, true
	}
	for _, id := range n.enabled {
		if ok(id) {
			return id, true
		}
	}
	return 0, false
}

func (e *Explorer[S]) independent(a, b S) bool {
	return e.Independent != nil && e.Independent(a, b)
}

// Explore calls program once per run until every schedule is explored.
// program must start its threads with Sched.Go, call Sched.Wait, and then
// judge the run if complete is true. A program that cannot replay a
// prefix exactly (it is not deterministic) makes Explore panic.
func (e *Explorer[S]) Explore(program func(s *Sched[S], complete func() bool)) Stats {
	var st Stats
	var stack []*node[S]
	for {
		depth, blocked := 0, false
		last := -1
		choose := func(enabled []int, steps []S) int {
			defer func() { depth++ }()
			if blocked {
				return fallback(enabled, last)
			}
			if depth < len(stack) {
				n := stack[depth]
				if !slices.Equal(n.enabled, enabled) || !sameSteps(n, steps) {
					panic(fmt.Sprintf("interleave: the program is not deterministic: at step %d the enabled threads are %v %v, the run before had %v %v",
						depth+1, enabled, pick(steps, enabled), n.enabled, pick(n.steps, n.enabled)))
				}
				last = n.chosen
				return n.chosen
			}
			n := &node[S]{enabled: slices.Clone(enabled), steps: slices.Clone(steps)}
			if depth > 0 {
				p := stack[depth-1]
				t := p.steps[p.chosen]
				for _, c := range p.sleep {
					if e.independent(c.Step, t) {
						n.sleep = append(n.sleep, c)
					}
				}
				for _, id := range p.done {
					if e.independent(p.steps[id], t) {
						n.sleep = append(n.sleep, Choice[S]{Thread: id, Step: p.steps[id]})
					}
				}
			}
			id, ok := n.next(last)
			if !ok {
				blocked = true
				return fallback(enabled, last)
			}
			n.chosen = id
			stack = append(stack, n)
			last = id
			return id
		}
		s := newSched(choose)
		program(s, func() bool { return !blocked })
		if !s.waited {
			panic("interleave: the program did not call Sched.Wait")
		}
		if blocked {
			st.Pruned++
		} else {
			st.Schedules++
		}
		st.MaxDepth = max(st.MaxDepth, depth)
		if e.MaxRuns > 0 && st.Schedules+st.Pruned >= e.MaxRuns {
			st.Truncated = true
			return st
		}
		// Backtrack to the deepest node with a sibling left to explore.
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			n.done = append(n.done, n.chosen)
			prev := -1
			if len(stack) > 1 {
				prev = stack[len(stack)-2].chosen
			}
			if id, ok := n.next(prev); ok {
				n.chosen = id
				break
			}
			stack = stack[:len(stack)-1]
		}
		if len(stack) == 0 {
			return st
		}
	}
}

func fallback(enabled []int, last int) int {
	if slices.Contains(enabled, last) {
		return last
	}
	return enabled[0]
}

func sameSteps[S comparable](n *node[S], steps []S) bool {
	for _, id := range n.enabled {
		if n.steps[id] != steps[id] {
			return false
		}
	}
	return true
}

func pick[S comparable](steps []S, ids []int) []S {
	out := make([]S, len(ids))
	for i, id := range ids {
		out[i] = steps[id]
	}
	return out
}

// Replay runs program once along schedule, a list of thread indexes, and
// then in a fixed order (the last thread while it can run, else the
// lowest) if the schedule ends first. It returns an error if a pick names
// a thread that is not at a point; the run still completes.
func Replay[S comparable](schedule []int, program func(s *Sched[S])) (err error) {
	depth, last := 0, -1
	s := newSched(func(enabled []int, _ []S) int {
		defer func() { depth++ }()
		if depth < len(schedule) && err == nil {
			if id := schedule[depth]; slices.Contains(enabled, id) {
				last = id
				return id
			}
			err = fmt.Errorf("interleave: step %d of the schedule picks thread %d, but only %v can run", depth+1, schedule[depth], enabled)
		}
		last = fallback(enabled, last)
		return last
	})
	program(s)
	if err == nil && depth < len(schedule) {
		err = fmt.Errorf("interleave: the run ended after %d steps, the schedule has %d", depth, len(schedule))
	}
	return err
}
