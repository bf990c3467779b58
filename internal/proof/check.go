package proof

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/httpsession/httpsession"
)

// Violation is one invariant broken by one schedule.
type Violation struct {
	Rule   string
	Detail string
}

func (v Violation) String() string { return v.Rule + ": " + v.Detail }

// The invariants. Each is a function of what the requests observed (the
// results of their own store calls, their responses), of the order of the
// calls on each store key and of the final store: all of them are the same
// for two schedules that differ only in the order of independent steps, so
// the pruning of the exploration cannot hide a violation.
const (
	ruleCrash    = "crash"      // a request panicked
	ruleModel    = "model"      // the store did not do what the checker's model of it says
	ruleStatus   = "status"     // a request answered other than 200, or Save failed
	ruleLate     = "late-write" // a store write after the response started, before the handler returned
	ruleReplay   = "replay"     // a write is not the writer's change applied to the version it replaced
	ruleLost     = "lost"       // a 2xx request's saved change was removed by something that does not carry it
	ruleDropped  = "dropped"    // a 2xx request's change was never saved, though its session was there
	ruleToken    = "token"      // a response's token does not lead to what the request saved
	ruleEnded    = "ended"      // a destroyed or expired session's data is reachable at the end
	ruleOldToken = "old-token"  // after Destroy or Renew the old token still reaches data
	ruleCount    = "count"      // the final session lacks a 2xx request's change
)

// clientToken is the token the client holds after q's response.
func (r *run) clientToken(q *request) string {
	switch q.cookie {
	case "":
		return r.token0
	case "clear":
		return ""
	}
	return q.cookie
}

func (r *run) describeNode(n *node) string {
	if n == nil {
		return "nothing"
	}
	return fmt.Sprintf("%s %s %s", r.keyName(n.key), r.ver(n.version), formatValues(n.values))
}

func originS0(n *node) bool { return n != nil && n.values["origin"] == "s0" }

// check judges a complete run. told counts the requests that answered 200
// with their changes dropped because another request had ended or renewed
// the session, and learnt it from Session.Status or Manager.Save.
func (r *run) check(panics []any) (vs []Violation, told int) {
	add := func(rule, format string, args ...any) {
		vs = append(vs, Violation{Rule: rule, Detail: fmt.Sprintf(format, args...)})
	}
	for i, p := range panics {
		if p != nil {
			add(ruleCrash, "thread %d panicked: %v", i+1, p)
		}
	}
	for _, p := range r.problems {
		add(ruleModel, "%s", p)
	}
	for _, q := range r.reqs {
		if q.status != q.wantStatus() {
			add(ruleStatus, "%s %v answered %d", q.name, q.op, q.status)
		}
		// ErrInterrupted is Save telling the handler that another
		// request ended the session: an answer, not a failure.
		if q.saveErr != nil && !errors.Is(q.saveErr, httpsession.ErrInterrupted) {
			add(ruleStatus, "%s %v: Save: %v", q.name, q.op, q.saveErr)
		}
	}
	for _, e := range r.events {
		if e.write() && e.req != nil && e.started && !e.returned {
			add(ruleLate, "%s %v wrote %s after its response started", e.req.name, e.req.op, r.keyName(e.key))
		}
	}

	for _, n := range r.nodes {
		q := n.writer
		if q == nil {
			continue
		}
		var parent map[string]any
		if n.parent != nil {
			parent = n.parent.values
		}
		switch {
		case n.marker:
			if q.op != Renew {
				add(ruleReplay, "%s %v wrote a grace marker %s", q.name, q.op, r.describeNode(n))
			}
		case q.op == Destroy || q.op == Destroy5xx:
			add(ruleReplay, "%s %v wrote %s", q.name, q.op, r.describeNode(n))
		default:
			if want := q.expect(n.carries, parent); !reflect.DeepEqual(n.values, want) {
				add(ruleReplay, "%s %v wrote %s over %s, want %s", q.name, q.op, r.describeNode(n), r.describeNode(n.parent), formatValues(want))
			}
		}
		by := n.removedBy()
		if q.status != http.StatusOK || !q.changes() || n.marker || (n.fate != deleted && by == nil) {
			continue
		}
		switch {
		case by == nil:
			add(ruleLost, "%s %v's write (%s) was deleted outside a request", q.name, q.op, r.describeNode(n))
		case by.op == Destroy || by.op == Destroy5xx:
			// A later logout legitimately ends every change before it.
		case by.op == Renew:
			if !slices.ContainsFunc(by.data(), func(c *node) bool { return c.parent == n }) {
				var carried *node
				for _, c := range by.data() {
					if c.parent != nil {
						carried = c.parent
					}
				}
				add(ruleLost, "%s %v's write (%s) was removed by %s renew, which carried %s into the new session",
					q.name, q.op, r.describeNode(n), by.name, r.describeNode(carried))
			}
		default:
			add(ruleLost, "%s %v's write (%s) was removed by %s %v", q.name, q.op, r.describeNode(n), by.name, by.op)
		}
	}

	for _, q := range r.reqs {
		if q.op == Destroy5xx && q.loadedSession() && q.cookie != "clear" {
			add(ruleToken, "%s %v did not clear the cookie", q.name, q.op)
		}
		if q.status != http.StatusOK {
			continue
		}
		tok := r.clientToken(q)
		if data := q.data(); len(data) > 0 {
			last := data[len(data)-1]
			if q.op != Read && (tok == "" || httpsession.StoreKey(tok) != last.key) {
				add(ruleToken, "%s %v saved %s, but the client holds %s", q.name, q.op, r.describeNode(last), r.tokenName(tok))
			}
		} else if q.changes() {
			switch {
			case q.told:
				told++
			case q.op == LateSet && (!q.loadedSession() || !q.sawSession()):
				// A change made after the response started is dropped
				// when the session ended meanwhile, or needs a token the
				// client can no longer get; nobody is left to tell.
			case q.sawSession():
				add(ruleDropped, "%s %v answered 200 but never saved, untold; its last read found the session", q.name, q.op)
			default:
				add(ruleDropped, "%s %v answered 200 but never saved, untold; the session had ended", q.name, q.op)
			}
			if q.cookie != "" && q.cookie != "clear" {
				add(ruleToken, "%s %v saved nothing but sent the token of %s", q.name, q.op, r.tokenName(q.cookie))
			}
		}
		switch {
		case q.op == Read && q.cookie != "":
			add(ruleToken, "%s read changed the cookie (%s)", q.name, r.tokenName(tok))
		case q.op == Destroy && q.loadedSession() && q.cookie != "clear":
			add(ruleToken, "%s destroy did not clear the cookie", q.name)
		}
	}

	// Ended sessions stay ended. After a Destroy removed the live session
	// no record may hold its data at the end: a Renew that carries it on
	// must have closed the old record first, or the logout undoes nothing
	// when it falls between the Renew's load and its delete. A session that
	// expired may not be copied by a Renew afterwards.
	live := r.liveNodes()
	for _, n := range r.nodes {
		if !originS0(n) {
			continue
		}
		switch {
		case n.fate == deleted && n.by != nil && (n.by.op == Destroy || n.by.op == Destroy5xx):
			for _, l := range live {
				if originS0(l) {
					add(ruleEnded, "%s destroy removed %s; %s still holds its data, written by %s %v",
						n.by.name, r.describeNode(n), r.describeNode(l), l.writer.name, l.writer.op)
				}
			}
		}
	}
	for _, n := range r.nodes {
		if n.writer != nil && n.parent != nil && n.parent.key != n.key && n.parent.fate == expired && n.parent.fateAt < n.event {
			add(ruleEnded, "%s %v copied %s into %s after it expired", n.writer.name, n.writer.op, r.describeNode(n.parent), r.describeNode(n))
		}
	}

	// The old token reaches nothing after a logout or login, through the
	// Manager itself.
	for _, q := range r.reqs {
		if q.status == q.wantStatus() && q.loadedSession() && (q.op == Destroy || q.op == Destroy5xx || q.op == Renew) {
			r.setup = true
			s, err := r.m.Load(context.Background(), r.token0)
			r.setup = false
			if err != nil {
				add(ruleOldToken, "loading the old token: %v", err)
			} else if len(s.Keys()) > 0 {
				add(ruleOldToken, "after %s %v the old token still reaches %v", q.name, q.op, s.Keys())
			}
			break
		}
	}
	// Within the grace window after a Renew, a request with the old token
	// gets no new session: its changes are dropped and no cookie is sent.
	if m := r.live(httpsession.StoreKey(r.token0)); m != nil && m.marker {
		vs = append(vs, r.probeGrace()...)
	}

	if !r.c.has(Destroy) && !r.c.has(Destroy5xx) && !r.c.has(Renew) && r.c.Clock == Still {
		vs = append(vs, r.checkFinal()...)
	}

	vs = append(vs, r.checkStore()...)
	return vs, told
}

// checkFinal checks the session's final values directly, for combinations
// where nothing ends it: every 2xx request's change is there.
func (r *run) checkFinal() []Violation {
	var vs []Violation
	add := func(format string, args ...any) {
		vs = append(vs, Violation{Rule: ruleCount, Detail: fmt.Sprintf(format, args...)})
	}
	final := r.live(httpsession.StoreKey(r.token0))
	if final == nil {
		add("the session is gone")
		return vs
	}
	incr := int64(0)
	for _, q := range r.reqs {
		if q.status != http.StatusOK {
			continue
		}
		me := q.name
		switch q.op {
		case Incr:
			incr++
		case SetOwn:
			if final.values["own-"+me] != me {
				add("%s set-own lost: %s", me, r.describeNode(final))
			}
		case SaveNow:
			if final.values["now-"+me] != me {
				add("%s save-now lost: %s", me, r.describeNode(final))
			}
		case LateSet:
			if final.values["late-"+me] != me {
				add("%s late-set lost: %s", me, r.describeNode(final))
			}
		case Update:
			if u, _ := final.values["u"].(string); strings.Count(u, me+",") != 1 {
				add("%s update applied %d times: %s", me, strings.Count(u, me+","), r.describeNode(final))
			}
		case SetShared:
			if _, ok := final.values["shared"]; !ok {
				add("%s set-shared lost: %s", me, r.describeNode(final))
			}
		}
	}
	if n, _ := final.values["n"].(int64); n != incr {
		add("counter is %d after %d increments answered 200", n, incr)
	}
	return vs
}

// checkStore compares the checker's model of the store with memstore.
func (r *run) checkStore() []Violation {
	model := map[string]uint64{}
	for _, n := range r.liveNodes() {
		model[n.key] = n.version
	}
	real := map[string]uint64{}
	err := r.mem.List(context.Background(), func(key string, rec httpsession.Record) bool {
		real[key] = rec.Version
		return true
	})
	if err != nil || !maps.Equal(model, real) {
		return []Violation{{Rule: ruleModel, Detail: fmt.Sprintf("final store %v, the model has %v (%v)", real, model, err)}}
	}
	return nil
}

func (r *run) liveNodes() []*node {
	var out []*node
	for _, k := range slices.Sorted(maps.Keys(r.shadow)) {
		if n := r.live(k); n != nil {
			out = append(out, n)
		}
	}
	return out
}

func (r *run) tokenName(tok string) string {
	if tok == "" {
		return "no token"
	}
	return "the token of " + r.keyName(httpsession.StoreKey(tok))
}

// probeGrace sends one more request with the old token, which sets a key,
// and checks that it is refused quietly: 200, no cookie, Status
// interrupted, nothing written.
func (r *run) probeGrace() []Violation {
	r.setup = true
	defer func() { r.setup = false }()
	before := len(r.nodes)
	q := &request{op: SetOwn, name: "probe"}
	r.probe = q
	defer func() { r.probe = nil }()
	r.request(q)
	var vs []Violation
	if q.status != http.StatusOK || q.cookie != "" || !q.told || len(r.nodes) != before {
		vs = append(vs, Violation{Rule: ruleOldToken, Detail: fmt.Sprintf(
			"within the grace window a request with the old token answered %d, cookie %q, told %v, %d records written",
			q.status, q.cookie, q.told, len(r.nodes)-before)})
	}
	return vs
}
