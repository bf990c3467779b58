package boltstore

import (
	"errors"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/httpsession/httpsession"
)

// Group commit. bbolt runs one read-write transaction at a time and each
// commit costs two fsyncs, so writers that queue up behind a commit share
// the next one: the first writer to find no commit running becomes the
// leader, runs every queued write in one transaction, then hands the lead
// to the first writer that queued meanwhile. A lone writer commits at once,
// with no added delay (bbolt's own Batch waits up to 10ms to gather
// writers).
//
// Writes in one transaction run one after another, each seeing the ones
// before it, so every compare-and-set is decided exactly as if the writes
// had been committed one by one in queue order.

// maxGroup bounds the writes one transaction carries.
const maxGroup = 256

// write is one queued Put, Touch or Delete.
type write struct {
	fn  func(b buckets) error
	err error
	// wake is signalled when the write is done (done is true) or when
	// the writer is to lead the next commit.
	wake chan struct{}
	done bool
}

type committer struct {
	mu      sync.Mutex
	queue   []*write
	leading bool // a leader is committing or about to
}

// update runs fn in a read-write transaction, shared with other writers
// that are waiting at the same time. fn must decide before it writes
// anything whether it returns ErrConflict or ErrNotFound, so that such a
// write can share a transaction that commits; any other error rolls the
// shared transaction back and each of its writes is retried alone.
func (s *Store) update(fn func(b buckets) error) error {
	w := &write{fn: fn, wake: make(chan struct{}, 1)}
	c := &s.commit
	c.mu.Lock()
	c.queue = append(c.queue, w)
	if c.leading {
		c.mu.Unlock()
		<-w.wake
		if w.done {
			return w.err
		}
	} else {
		c.leading = true
		c.mu.Unlock()
	}
	// Lead: commit the queue, which holds w, and pass the lead on.
	c.mu.Lock()
	n := min(len(c.queue), maxGroup)
	group := c.queue[:n:n]
	c.queue = c.queue[n:]
	c.mu.Unlock()

	s.commitGroup(group)

	c.mu.Lock()
	var next *write
	if len(c.queue) > 0 {
		next = c.queue[0]
	} else {
		c.leading = false
	}
	c.mu.Unlock()
	for _, o := range group {
		if o != w {
			o.done = true
			o.wake <- struct{}{}
		}
	}
	if next != nil {
		next.wake <- struct{}{}
	}
	return w.err
}

// errAbort rolls back a shared transaction in which a write failed.
var errAbort = errors.New("boltstore: abort group")

func (s *Store) commitGroup(group []*write) {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		for _, o := range group {
			o.err = o.fn(b)
			if o.err != nil && !errors.Is(o.err, httpsession.ErrConflict) && !errors.Is(o.err, httpsession.ErrNotFound) {
				return errAbort
			}
		}
		return nil
	})
	switch {
	case err == nil:
	case errors.Is(err, errAbort) && len(group) > 1:
		for _, o := range group {
			s.commitGroup([]*write{o})
		}
	case errors.Is(err, errAbort):
		// group[0].err is the write's own error
	default:
		for _, o := range group {
			o.err = err
		}
	}
}
