// Package proof checks httpsession's save protocol exhaustively: every
// interleaving of the store calls of three concurrent requests on one
// session, with the real Manager, Session and middleware code, against
// memstore behind a store whose every call is a scheduling point.
//
// A Combination names the three requests (what each handler does), how the
// clock moves and whether the store can Touch. Explore runs every schedule
// of a combination with package interleave and checks the invariants of
// check.go after each one; a violation comes back as a Counterexample whose
// schedule Check replays.
//
// The conflict loop of a save waits a random time between attempts. Run the
// exploration inside a testing/synctest bubble, as the tests of this
// package do: the waits then take no real time, and since the scheduler
// waits for the running request to reach its next store call whatever the
// wait, they change nothing else.
package proof

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/interleave"
	"github.com/httpsession/httpsession/store/memstore"
)

// Op is what one request's handler does with the session.
type Op uint8

// The requests of the model. Each answers 200 unless its save fails.
const (
	SetOwn     Op = iota // Set a key no other request writes
	SetShared            // Set the key every SetShared request writes
	Incr                 // Incr a counter shared by every Incr request
	Update               // Update a shared string by appending the request's name
	Destroy              // Destroy the session (logout)
	Renew                // Renew, then Set "user" (login)
	Read                 // read only; the idle expiry is due for a touch
	SaveNow              // Set a key of its own, then Manager.Save inside the handler
	Destroy5xx           // Destroy, then answer 500: the logout must happen all the same
	LateSet              // answer first, then Set a key of its own: the late save
	numOps
)

var opNames = [...]string{"set-own", "set-shared", "incr", "update", "destroy", "renew", "read", "save-now", "destroy-5xx", "late-set"}

func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return fmt.Sprintf("op%d", o)
}

// Ops lists every Op.
func Ops() []Op {
	ops := make([]Op, numOps)
	for i := range ops {
		ops[i] = Op(i)
	}
	return ops
}

// Clock says how time moves during a schedule.
type Clock uint8

const (
	// Still: no time passes.
	Still Clock = iota
	// PastIdle: one tick of IdleTick, which may fall before or after any
	// store call, arrival or handler entry. It carries the session loaded
	// by the requests past its idle expiry, unless a request has written
	// or touched it by then.
	PastIdle
	// PastGrace: one tick of GraceTick, past the grace window of a Renew
	// but not past any idle expiry. Only with a Renew.
	PastGrace
)

func (c Clock) String() string {
	switch c {
	case Still:
		return "still"
	case PastIdle:
		return "past-idle"
	case PastGrace:
		return "past-grace"
	}
	return fmt.Sprintf("clock%d", c)
}

// The times of the model.
const (
	IdleTimeout   = 10 * time.Minute
	TouchInterval = time.Minute
	// SessionAge is how long before the requests arrive the session was
	// last written: its idle expiry is one minute after their arrival,
	// and a touch is due.
	SessionAge = 9 * time.Minute
	// IdleTick is the step of the PastIdle clock: past the session's idle
	// expiry, not past that of a record written when the requests arrive.
	IdleTick = 2 * time.Minute
	// RenewGrace is the Manager's grace window after a Renew, and
	// GraceTick the step of the PastGrace clock.
	RenewGrace = 30 * time.Second
	GraceTick  = 45 * time.Second
)

// start is when the requests arrive.
var start = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// Combination is one configuration of the model.
type Combination struct {
	Ops   [3]Op // the requests, in thread order
	Clock Clock
	// PutTouch hides memstore's Touch, so the Manager slides the idle
	// expiry with a compare-and-set Put instead.
	PutTouch bool

	// blindPuts breaks the store on purpose: a Put of an existing record
	// overwrites whatever version is stored. The tests use it to show that
	// the checker notices lost updates.
	blindPuts bool
}

func (c Combination) String() string {
	s := fmt.Sprintf("%v,%v,%v clock=%v", c.Ops[0], c.Ops[1], c.Ops[2], c.Clock)
	if c.PutTouch {
		s += " touch=put"
	}
	return s
}

// ParseCombination parses the output of Combination.String.
func ParseCombination(s string) (Combination, error) {
	var c Combination
	f := strings.Fields(s)
	if len(f) < 2 {
		return c, fmt.Errorf("proof: combination %q: want OPS clock=C [touch=put]", s)
	}
	ops := strings.Split(f[0], ",")
	if len(ops) != 3 {
		return c, fmt.Errorf("proof: combination %q: want three requests", s)
	}
	for i, name := range ops {
		o, ok := opByName(name)
		if !ok {
			return c, fmt.Errorf("proof: combination %q: unknown request %q", s, name)
		}
		c.Ops[i] = o
	}
	for _, kv := range f[1:] {
		switch kv {
		case "clock=still":
			c.Clock = Still
		case "clock=past-idle":
			c.Clock = PastIdle
		case "clock=past-grace":
			c.Clock = PastGrace
		case "touch=put":
			c.PutTouch = true
		default:
			return c, fmt.Errorf("proof: combination %q: unknown setting %q", s, kv)
		}
	}
	return c, nil
}

func opByName(name string) (Op, bool) {
	for i, n := range opNames {
		if n == name {
			return Op(i), true
		}
	}
	return 0, false
}

func (c Combination) has(o Op) bool {
	for _, x := range c.Ops {
		if x == o {
			return true
		}
	}
	return false
}

// Combinations lists every multiset of three requests, under every clock
// (PastGrace only with a Renew); combinations with a Read request come a
// second time with PutTouch.
// Requests are symmetric, so the order of the three does not matter.
func Combinations() []Combination {
	var out []Combination
	for a := range numOps {
		for b := a; b < numOps; b++ {
			for c := b; c < numOps; c++ {
				for _, clk := range []Clock{Still, PastIdle, PastGrace} {
					base := Combination{Ops: [3]Op{a, b, c}, Clock: clk}
					if clk == PastGrace && !base.has(Renew) {
						continue
					}
					out = append(out, base)
					if base.has(Read) {
						base.PutTouch = true
						out = append(out, base)
					}
				}
			}
		}
	}
	return out
}

// stepOp is the kind of a scheduling point.
type stepOp uint8

const (
	opGet stepOp = iota
	opPut
	opDelete
	opTouch
	opArrive // a request arrives (reads the clock for its load)
	opServe  // the handler starts (reads the clock for Renew and the save)
	opTick   // the clock moves
)

var stepNames = [...]string{"Get", "Put", "Delete", "Touch", "arrive", "serve", "tick"}

func (o stepOp) String() string { return stepNames[o] }

// step is what a thread announces at a scheduling point.
type step struct {
	op  stepOp
	key string
}

// independent is the commutation relation the exploration prunes with.
// Steps of two requests commute when they touch different store keys, when
// both read one key, and when either is local (arrive, serve: they read
// only the clock and the request's own state). The tick commutes with
// nothing. Two Puts never commute, even on different keys: memstore draws
// versions from one counter, so their order shows in the versions (and in
// nothing the Manager does, but the checker compares versions). Two Deletes
// of one key leave the same store but the checker tells which one removed
// the record, so they do not commute either.
func independent(a, b step) bool {
	switch {
	case a.op == opTick || b.op == opTick:
		return false
	case a.op == opArrive || a.op == opServe || b.op == opArrive || b.op == opServe:
		return true
	case a.op == opPut && b.op == opPut:
		return false
	case a.key != b.key:
		return true
	}
	return a.op == opGet && b.op == opGet
}

// request is one request's view of a run.
type request struct {
	op       Op
	name     string // r1, r2, r3
	status   int
	cookie   string // "" no Set-Cookie, "clear", or the new token
	started  bool   // the response has started
	returned bool   // the handler has returned
	saveErr  error  // SaveNow's error
	changed  bool   // the handler has made its change
	written  bool   // a write has carried the change
	told     bool   // the handler learnt its changes were dropped

	loaded   *node // the record the load found, nil for a new session
	lastRead *node // the record its last Get found
	lastGet  getResult
	nodes    []*node // records this request wrote, in order
	tokens   int     // tokens generated
}

type getResult uint8

const (
	getNone getResult = iota
	getFound
	getMissing
)

// run is one schedule of a combination.
type run struct {
	c      Combination
	sched  *interleave.Sched[step]
	now    time.Time
	mem    *memstore.Store
	m      *httpsession.Manager
	h      http.Handler
	token0 string
	base   uint64 // the store's last version before the run
	reqs   [3]*request
	setup  bool

	probe *request // the request probeGrace sends after the run

	keyNames map[string]string
	shadow   map[string]*node // live records as the checker models them
	nodes    []*node
	events   []event
	problems []string // model inconsistencies, reported as violations
}

// backing is the memstore of an exploration. It is emptied for each run
// rather than made anew: memstore allocates its slots by the page, which
// would cost more than the run.
type backing struct {
	mem *memstore.Store
	run *run
}

func newBacking() *backing {
	b := &backing{}
	b.mem = memstore.New(memstore.Options{Now: func() time.Time { return b.run.now }, CleanupInterval: -1})
	return b
}

func newRun(c Combination, b *backing) *run {
	r := &run{c: c, now: start.Add(-SessionAge), keyNames: map[string]string{}, shadow: map[string]*node{}}
	for i, o := range c.Ops {
		r.reqs[i] = &request{op: o, name: fmt.Sprintf("r%d", i+1)}
	}
	b.run, r.mem = r, b.mem
	var keys []string
	if err := r.mem.List(context.Background(), func(key string, _ httpsession.Record) bool {
		keys = append(keys, key)
		return true
	}); err != nil {
		panic(err)
	}
	for _, k := range keys {
		if err := r.mem.Delete(context.Background(), k); err != nil {
			panic(err)
		}
	}
	var st httpsession.Store = &ctlStore{r: r}
	if !c.PutTouch {
		st = &ctlToucher{ctlStore{r: r}}
	}
	m, err := httpsession.New(httpsession.Config{
		Store:           st,
		IdleTimeout:     IdleTimeout,
		TouchInterval:   TouchInterval,
		StoreTimeout:    time.Hour,
		RenewGrace:      RenewGrace,
		CleanupInterval: -1,
		Logger:          slog.New(slog.DiscardHandler),
		Now:             r.clock,
		NewToken:        r.newToken,
	})
	if err != nil {
		panic(err)
	}
	r.m = m
	r.h = m.Handler(http.HandlerFunc(r.serve))

	// The session the three requests share, last written SessionAge ago.
	r.setup = true
	s, err := m.Load(context.Background(), "")
	if err != nil {
		panic(err)
	}
	s.Set("origin", "s0")
	if err := m.Save(context.Background(), s); err != nil {
		panic(err)
	}
	r.token0 = s.Token()
	r.setup = false
	r.now = start
	return r
}

func (r *run) clock() time.Time { return r.now }

// current returns the running request, or nil outside one.
func (r *run) current() *request {
	if r.probe != nil {
		return r.probe
	}
	if r.setup || r.sched == nil {
		return nil
	}
	if i := r.sched.Current(); i >= 0 && i < len(r.reqs) {
		return r.reqs[i]
	}
	return nil
}

// newToken makes tokens that depend only on the request and how many it
// made before, so replaying a schedule gives the same tokens, and steps of
// different requests commute.
func (r *run) newToken() (string, error) {
	q := r.current()
	who, name := "setup", "S0"
	n := 1
	if q != nil {
		q.tokens++
		n = q.tokens
		who = q.name
		name = "S" + strings.TrimPrefix(q.name, "r")
		if n > 1 {
			name += fmt.Sprintf(".%d", n)
		}
	}
	t := fmt.Sprintf("prooftoken-%s-%d-0000000000", who, n)
	r.keyNames[httpsession.StoreKey(t)] = name
	return t, nil
}

func (r *run) keyName(key string) string {
	if n, ok := r.keyNames[key]; ok || key == "" {
		return n
	}
	return key[:min(8, len(key))]
}

// point is a scheduling point of the running thread; none during setup.
func (r *run) point(op stepOp, key string) {
	if r.setup {
		return
	}
	r.sched.Point(step{op: op, key: key})
}

// localPoints reports whether arrival and handler entry are scheduling
// points. They commute with every store call, so they matter only when the
// clock can move.
func (r *run) localPoints() bool { return r.c.Clock != Still }

// start launches the threads: the three requests, then the clock.
func (r *run) start(s *interleave.Sched[step]) {
	r.sched = s
	for _, q := range r.reqs {
		s.Go(func() { r.request(q) })
	}
	if step := r.tickStep(); step > 0 {
		s.Go(func() {
			r.point(opTick, "")
			r.now = r.now.Add(step)
			r.tick()
		})
	}
}

func (r *run) tickStep() time.Duration {
	switch r.c.Clock {
	case PastIdle:
		return IdleTick
	case PastGrace:
		return GraceTick
	}
	return 0
}

// request sends one request with the session's token through the
// Manager's middleware.
func (r *run) request(q *request) {
	if r.localPoints() {
		r.point(opArrive, "")
		r.log(event{kind: evArrive})
	}
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.AddCookie(&http.Cookie{Name: "session", Value: r.token0})
	rec := httptest.NewRecorder()
	r.h.ServeHTTP(&watchWriter{ResponseWriter: rec, r: r, q: q}, req)
	q.status = rec.Code
	for _, ck := range rec.Result().Cookies() {
		if ck.Name != "session" {
			continue
		}
		if ck.MaxAge < 0 || ck.Value == "" {
			q.cookie = "clear"
		} else {
			q.cookie = ck.Value
		}
	}
}

// serve is the handler of every request: what it does depends on the
// request's Op.
func (r *run) serve(w http.ResponseWriter, req *http.Request) {
	q := r.current()
	defer func() {
		q.returned = true
		r.log(event{kind: evReturn})
	}()
	if r.localPoints() {
		r.point(opServe, "")
		r.log(event{kind: evServe})
	}
	s := httpsession.SessionFrom(req.Context())
	me := q.name
	q.changed = q.op != LateSet
	switch q.op {
	case SetOwn:
		s.Set("own-"+me, me)
	case SetShared:
		s.Set("shared", me)
	case Incr:
		s.Incr("n", 1)
	case Update:
		s.Update("u", func(old any) any {
			v, _ := old.(string)
			return v + me + ","
		})
	case Destroy:
		s.Destroy()
	case Renew:
		s.Renew()
		s.Set("user", me)
	case Read:
		_ = s.Get("origin")
	case SaveNow:
		s.Set("now-"+me, me)
		q.saveErr = r.m.Save(req.Context(), s)
	case Destroy5xx:
		s.Destroy()
		w.WriteHeader(http.StatusInternalServerError)
	case LateSet:
		io.WriteString(w, "ok")
		s.Set("late-"+me, me)
		q.changed = true
	}
	io.WriteString(w, "ok")
	q.told = s.Status() == httpsession.StatusInterrupted || errors.Is(q.saveErr, httpsession.ErrInterrupted)
}

// wantStatus is the status q should answer with.
func (q *request) wantStatus() int {
	if q.op == Destroy5xx {
		return http.StatusInternalServerError
	}
	return http.StatusOK
}

// data returns the records q wrote, without grace markers.
func (q *request) data() []*node {
	var out []*node
	for _, n := range q.nodes {
		if !n.marker {
			out = append(out, n)
		}
	}
	return out
}

// expect returns the values a write by q should store, given the values
// of the record it replaces or copies (nil for a new session). The first
// write after the handler made its change carries it; any other (a touch
// before a late change, or one after the save when the clock moved past
// the touch interval meanwhile) rewrites what it replaces.
func (q *request) expect(carries bool, parent map[string]any) map[string]any {
	v := map[string]any{}
	for k, x := range parent {
		v[k] = x
	}
	if !carries {
		return v
	}
	me := q.name
	switch q.op {
	case SetOwn:
		v["own-"+me] = me
	case SetShared:
		v["shared"] = me
	case Incr:
		n, _ := v["n"].(int64)
		v["n"] = n + 1
	case Update:
		s, _ := v["u"].(string)
		v["u"] = s + me + ","
	case Renew:
		v["user"] = me
	case SaveNow:
		v["now-"+me] = me
	case LateSet:
		v["late-"+me] = me
	}
	return v
}

// changes reports whether q's handler changes the session.
func (q *request) changes() bool { return q.op != Read && q.op != Destroy && q.op != Destroy5xx }

// watchWriter notes when a response starts.
type watchWriter struct {
	http.ResponseWriter
	r *run
	q *request
}

func (w *watchWriter) WriteHeader(code int) {
	if !w.q.started {
		w.q.started = true
		w.r.log(event{kind: evRespond, status: code, cookie: w.Header().Get("Set-Cookie") != ""})
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *watchWriter) Write(b []byte) (int, error) {
	if !w.q.started {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// sawSession reports whether q's last read found the session itself.
func (q *request) sawSession() bool { return q.lastGet == getFound && !q.lastRead.marker }

// loadedSession reports whether q's load found the session itself, not
// nothing and not a grace marker.
func (q *request) loadedSession() bool { return q.loaded != nil && !q.loaded.marker }
