package replicated

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/httpsession/httpsession"
)

// errNoMember is returned when every member is down and none is due for
// another try.
var errNoMember = errors.New("replicated: every member is down")

// finalError marks an error after which a call must not move on to another
// member: a List that already passed records to its callback.
type finalError struct{ error }

func (e finalError) Unwrap() error { return e.error }

func name(i int) string {
	if i == 0 {
		return "primary"
	}
	return fmt.Sprintf("replica %d", i)
}

// writerIndex returns the member that takes writes and answers reads. When
// every member is down, the first one due for another try becomes the
// writer.
func (s *Store) writerIndex() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downSince[s.writer].IsZero() {
		return s.writer, nil
	}
	now := time.Now()
	for k := range len(s.members) {
		i := (s.writer + k) % len(s.members)
		if now.Sub(s.downSince[i]) >= s.retryAfter {
			s.downSince[i] = time.Time{}
			if i != s.writer {
				s.failovers++
				s.log.Warn("replicated: every member was down; trying again", "writer", name(i))
			}
			s.writer = i
			return i, nil
		}
	}
	return -1, errNoMember
}

// isWriter reports whether member w is still the writer.
func (s *Store) isWriter(w int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writer == w && s.downSince[w].IsZero()
}

// onWriter runs op on the writer, and again on the next writer each time
// the writer turns out to be down.
func (s *Store) onWriter(ctx context.Context, op func(w int) error) (int, error) {
	var err error
	for range len(s.members) + 1 {
		w, werr := s.writerIndex()
		if werr != nil {
			if err != nil {
				return -1, fmt.Errorf("%w; last error: %w", werr, err)
			}
			return -1, werr
		}
		err = op(w)
		if !s.failed(ctx, w, err) {
			return w, err
		}
	}
	return -1, fmt.Errorf("replicated: no member answers: %w", err)
}

// failed reports whether err, from member i, means that the member is
// down, and if so marks it down. Answers of the Store contract (not found,
// conflict, too large), the caller's own context ending and errors after
// which the call cannot move on are not failures; nor is any error of a
// member that implements Pinger and still answers a ping.
func (s *Store) failed(ctx context.Context, i int, err error) bool {
	var final finalError
	switch {
	case err == nil, ctx.Err() != nil, errors.As(err, &final),
		errors.Is(err, httpsession.ErrNotFound), errors.Is(err, httpsession.ErrConflict),
		errors.Is(err, httpsession.ErrTooLarge), errors.Is(err, httpsession.ErrNotSupported),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	}
	if p, ok := s.members[i].(httpsession.Pinger); ok && p.Ping(ctx) == nil {
		return false
	}
	s.markDown(i, err)
	return true
}

// markDown leaves member i out until Options.RetryAfter has passed, and
// moves the writer on if it was i.
func (s *Store) markDown(i int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downSince[i].IsZero() {
		s.log.Warn("replicated: member down", "member", name(i), "err", err)
	}
	s.downSince[i] = time.Now()
	if s.writer != i {
		return
	}
	for k := 1; k < len(s.members); k++ {
		j := (i + k) % len(s.members)
		if s.downSince[j].IsZero() {
			s.writer = j
			s.failovers++
			s.log.Warn("replicated: writes move to another member", "from", name(i), "to", name(j))
			return
		}
	}
}

// follower is a member that copies of writes go to. A probe is a member
// that was down and is due for another try.
type follower struct {
	i     int
	probe bool
}

// followers returns the members other than w that are up or due for a
// try. A member due for a try is tried by one call at a time.
func (s *Store) followers(w int) []follower {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	out := make([]follower, 0, len(s.members)-1)
	for i := range s.members {
		switch {
		case i == w:
		case s.downSince[i].IsZero():
			out = append(out, follower{i: i})
		case now.Sub(s.downSince[i]) >= s.retryAfter:
			s.downSince[i] = now
			out = append(out, follower{i: i, probe: true})
		}
	}
	return out
}

// settle records the outcome of a call on follower f: a failure marks it
// down; an answer brings a probed member back, as a replica (the writer
// does not move back to it: it may have missed writes while it was down).
// It reports whether the follower answered.
func (s *Store) settle(ctx context.Context, f follower, err error) bool {
	if s.failed(ctx, f.i, err) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.probe && !s.downSince[f.i].IsZero() {
		s.downSince[f.i] = time.Time{}
		s.log.Info("replicated: member back, as a replica", "member", name(f.i))
	}
	if err != nil && !errors.Is(err, httpsession.ErrNotFound) {
		s.copyFailures++
		s.log.Warn("replicated: a replica did not take a write", "member", name(f.i), "err", err)
	}
	return true
}
