package proof

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/codec"
)

// ctlStore is the store the Manager sees: memstore, with a scheduling
// point before every call, and a record of every call for the checker.
type ctlStore struct{ r *run }

// ctlToucher adds memstore's Touch.
type ctlToucher struct{ ctlStore }

func (c *ctlStore) Get(ctx context.Context, key string) (httpsession.Record, error) {
	c.r.point(opGet, key)
	rec, err := c.r.mem.Get(ctx, key)
	c.r.observeGet(key, rec, err)
	return rec, err
}

func (c *ctlStore) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	c.r.point(opPut, key)
	if c.r.c.blindPuts && rec.Version != 0 {
		if cur, err := c.r.mem.Get(ctx, key); err == nil {
			rec.Version = cur.Version
		}
	}
	v, err := c.r.mem.Put(ctx, key, rec)
	c.r.observePut(key, rec, v, err)
	return v, err
}

func (c *ctlStore) Delete(ctx context.Context, key string) error {
	c.r.point(opDelete, key)
	err := c.r.mem.Delete(ctx, key)
	c.r.observeDelete(key, err)
	return err
}

func (c *ctlToucher) Touch(ctx context.Context, key string, expires time.Time) error {
	c.r.point(opTouch, key)
	err := c.r.mem.Touch(ctx, key, expires)
	c.r.observeTouch(key, expires, err)
	return err
}

// node is one version of a record as the checker models it.
type node struct {
	key     string
	version uint64
	writer  *request // nil for the session made before the requests
	values  map[string]any
	marker  bool // the grace marker a Renew leaves under the old key
	carries bool // the write carries its request's change
	expires time.Time
	parent  *node // the version it replaced, or for an insert the one it copies
	event   int   // the event that wrote it

	fate   fate
	fateAt int      // the number of events logged when the fate was sealed
	by     *request // who deleted it
	next   *node    // the version that replaced it
}

type fate uint8

const (
	alive fate = iota
	replaced
	deleted
	expired
)

type evKind uint8

const (
	evGet evKind = iota
	evPut
	evDelete
	evTouch
	evArrive
	evServe
	evTick
	evRespond
	evReturn
)

// event is one line of a run's record.
type event struct {
	kind     evKind
	req      *request // nil for the clock
	key      string
	ver      uint64 // Put: the version replaced (0: insert)
	got      uint64 // Get, Put: the version read or written
	err      error
	values   map[string]any // Put: what it wrote
	marker   bool           // Put: a grace marker
	data     []byte         // Get: what it read, decoded only for printing
	expires  time.Time
	removed  *node // Delete: the record it removed
	status   int
	cookie   bool
	started  bool // the request's response had started
	returned bool // the request's handler had returned
}

func (e event) write() bool { return e.kind == evPut || e.kind == evDelete || e.kind == evTouch }

func (r *run) log(e event) int {
	if r.setup {
		return -1
	}
	if e.req == nil {
		e.req = r.current()
	}
	if e.req != nil {
		e.started, e.returned = e.req.started, e.req.returned
	}
	r.events = append(r.events, e)
	return len(r.events) - 1
}

// removedBy returns the request that removed n from the store: its
// Delete, or the grace marker it wrote over n. nil if n was not removed
// by a request.
func (n *node) removedBy() *request {
	switch {
	case n.fate == deleted:
		return n.by
	case n.fate == replaced && n.next.marker:
		return n.next.writer
	}
	return nil
}

// live returns the live record under key in the model, retiring it if the
// clock has passed its expiry.
func (r *run) live(key string) *node {
	n := r.shadow[key]
	if n != nil && !r.now.Before(n.expires) {
		n.fate, n.fateAt = expired, len(r.events)
		delete(r.shadow, key)
		return nil
	}
	return n
}

func (r *run) tick() {
	r.log(event{kind: evTick})
	for k := range r.shadow {
		r.live(k)
	}
}

// ver names a version as the run's own count: the store that backs the
// runs of an exploration draws versions from one counter across runs.
func (r *run) ver(v uint64) string {
	if v == 0 {
		return "v0"
	}
	return fmt.Sprintf("v%d", v-r.base)
}

func (r *run) problem(format string, args ...any) {
	r.problems = append(r.problems, sprintf(format, args...))
}

func decodeValues(data []byte) map[string]any {
	v, _ := decodeRecord(data)
	return v
}

// decodeRecord returns a record's values, and whether it is the marker a
// Renew leaves under the old key.
func decodeRecord(data []byte) (map[string]any, bool) {
	var st codec.State
	if err := (codec.Gob{}).Decode(data, &st); err != nil {
		return map[string]any{"!undecodable": err.Error()}, false
	}
	return st.Values, st.Renewed
}

func (r *run) observeGet(key string, rec httpsession.Record, err error) {
	if r.setup {
		return
	}
	q := r.current()
	n := r.live(key)
	e := event{kind: evGet, key: key, err: err}
	switch {
	case err == nil:
		e.got, e.data = rec.Version, rec.Data
		if n == nil || n.version != rec.Version {
			r.problem("model: Get %s returned %s, the model has %s", r.keyName(key), r.ver(rec.Version), r.describeNode(n))
		}
	case errors.Is(err, httpsession.ErrNotFound):
		if n != nil {
			r.problem("model: Get %s found nothing, the model has %s", r.keyName(key), r.describeNode(n))
		}
		n = nil
	default:
		r.problem("Get %s: %v", r.keyName(key), err)
	}
	r.log(e)
	if q == nil {
		return
	}
	if q.lastGet == getNone {
		q.loaded = n
	}
	if n != nil {
		q.lastRead = n
	}
	q.lastGet = getMissing
	if n != nil {
		q.lastGet = getFound
	}
}

func (r *run) observePut(key string, rec httpsession.Record, v uint64, err error) {
	q := r.current()
	prev := r.live(key)
	e := event{kind: evPut, key: key, ver: rec.Version, got: v, err: err, expires: rec.Expires}
	if err == nil {
		e.values, e.marker = decodeRecord(rec.Data)
	}
	idx := r.log(e)
	switch {
	case err == nil:
		if r.setup && r.base == 0 {
			r.base = v - 1
		}
		n := &node{key: key, version: v, writer: q, values: e.values, marker: e.marker, expires: rec.Expires, event: idx}
		if q != nil && q.changed && !q.written && !n.marker {
			n.carries, q.written = true, true
		}
		if rec.Version != 0 {
			if prev == nil || prev.version != rec.Version {
				r.problem("model: Put %s over %s succeeded, the model has %s", r.keyName(key), r.ver(rec.Version), r.describeNode(prev))
			}
			n.parent = prev
			if prev != nil {
				prev.fate, prev.fateAt, prev.next = replaced, idx, n
			}
		} else {
			if prev != nil {
				r.problem("model: insert of %s succeeded over live %s", r.keyName(key), r.describeNode(prev))
			}
			if q != nil {
				// An insert copies what the request last read: the
				// session it renews, or nothing for a new session.
				n.parent = q.lastRead
			}
		}
		r.nodes = append(r.nodes, n)
		if q != nil {
			q.nodes = append(q.nodes, n)
		}
		if r.now.Before(rec.Expires) {
			r.shadow[key] = n
		} else {
			n.fate, n.fateAt = expired, idx
			delete(r.shadow, key)
		}
	case errors.Is(err, httpsession.ErrConflict):
		if prev != nil && prev.version == rec.Version {
			r.problem("model: Put %s over %s conflicted, the model has that version live", r.keyName(key), r.ver(rec.Version))
		}
	default:
		r.problem("Put %s: %v", r.keyName(key), err)
	}
}

func (r *run) observeDelete(key string, err error) {
	q := r.current()
	n := r.live(key)
	if err != nil {
		r.problem("Delete %s: %v", r.keyName(key), err)
	}
	idx := r.log(event{kind: evDelete, key: key, removed: n})
	if n != nil {
		n.fate, n.fateAt, n.by = deleted, idx, q
		delete(r.shadow, key)
	}
}

func (r *run) observeTouch(key string, expires time.Time, err error) {
	n := r.live(key)
	r.log(event{kind: evTouch, key: key, expires: expires, err: err})
	switch {
	case err == nil:
		if n == nil {
			r.problem("model: Touch %s succeeded, the model has no live record", r.keyName(key))
			return
		}
		if !r.now.Before(expires) {
			n.fate, n.fateAt = expired, len(r.events)
			delete(r.shadow, key)
			return
		}
		n.expires = expires
	case errors.Is(err, httpsession.ErrNotFound):
		if n != nil {
			r.problem("model: Touch %s found nothing, the model has %s", r.keyName(key), r.describeNode(n))
		}
	default:
		r.problem("Touch %s: %v", r.keyName(key), err)
	}
}
