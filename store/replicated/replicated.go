// Package replicated keeps every session on several httpsession stores, a
// primary and its replicas, and moves on to a replica when the primary
// fails, as Apache::Session::Memorycached's replicator did.
//
// # Writes
//
// One member, the writer, decides every compare-and-set: at first the
// primary. A Put reads the record from the writer, checks the version the
// caller holds and writes with the writer's own compare-and-set; then it
// copies the write to every other member that is up, and returns once each
// has it (synchronous replication). Members keep their own versions, so
// the record's version, the one callers see, travels inside the data with
// a sequence number that orders the copies: a replica takes a copy only if
// it comes after what it holds, so copies that arrive out of order never
// put an older write back. Delete leaves a short-lived tombstone on every
// member, so that a copy still on its way cannot bring a deleted session
// back. Touch goes to the writer, then to the others.
//
// # Failover
//
// A member whose call fails with anything but an answer of the Store
// contract (not found, conflict, too large), and which, if it implements
// httpsession.Pinger, does not answer a ping either, is down: it is left out
// for Options.RetryAfter, and if it was the writer the next member that is
// up (in the order primary, replicas...) becomes the writer, and the call
// is made again there. Reads and writes therefore go on while one member
// is up. Because writes are copied before they return, the new writer holds
// every write that had returned, and the version a caller read before the
// failover is still the record's version there, so its next Put succeeds
// without a conflict. The writer never moves back on its own: a member that
// answers again after RetryAfter rejoins as a replica, since it may have
// missed writes and deletes while it was down.
//
// # What can be lost, and when
//
//   - Nothing that returned, while one member that had it stays up: a Put
//     or Delete returns after every member that is up has taken it.
//   - A write that was being copied when its writer failed, if another
//     write of the same session reached the new writer first: the copy is
//     refused (it belongs to another history), and when the writer has
//     changed the Put reports ErrConflict, so the Manager reloads from the
//     new writer and replays the request's changes on it. Nothing is lost
//     then; only two failovers in a row during one write can lose it.
//   - Writes to a member that is down, and to one that was down and came
//     back: it misses them until each session is written again. A member
//     that restarts empty (memcached) holds only the sessions written since;
//     if it becomes the writer again (every member after it failed), the
//     others are lost, and deletes it missed can bring those sessions back
//     until they expire.
//   - Each process picks its writer by itself. A crash is seen by every
//     process alike; a failure that only some of them see (a network
//     partition) can give two writers, and then concurrent writes of one
//     session may be lost. Give every process the members in the same
//     order.
//   - Expiry is each member's own: records and copies carry the same
//     Expires.
//
// # Costs
//
// A Put is a read and a compare-and-set on the writer and a read and a
// write on every replica; a Delete a read and a write on every member; a
// Touch a read and a touch on the writer and a touch on every replica. The
// header takes 34 bytes of each member's record, so a member's size limit
// is 34 bytes less for the data.
package replicated

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/httpsession/httpsession"
)

// Options configure a replicated store. The zero value gives the
// defaults.
type Options struct {
	// RetryAfter is how long a member that failed is left out before it is
	// tried again, as a replica. The default value is 5 seconds.
	RetryAfter time.Duration
	// TombstoneTTL is how long a deleted record's tombstone stays on each
	// member: longer than a write can take, so that a late copy of a
	// write never brings a deleted session back. The default value is 1
	// minute.
	TombstoneTTL time.Duration
	// Logger receives failovers and failed copies. The default value is
	// slog.Default().
	Logger *slog.Logger
}

var (
	_ httpsession.Toucher    = (*Store)(nil)
	_ httpsession.Lister     = (*Store)(nil)
	_ httpsession.Cleaner    = (*Store)(nil)
	_ httpsession.OwnerIndex = (*Store)(nil)
	_ httpsession.Pinger     = (*Store)(nil)
)

// Defaults and limits.
const (
	defaultRetryAfter   = 5 * time.Second
	defaultTombstoneTTL = time.Minute
	// maxMembers is how many members a header's writer byte can name.
	maxMembers = 255
	// copyAttempts bounds the read-and-write loops of copies and
	// tombstones, which retry when the member's record changes under them.
	copyAttempts = 8
	// pingTimeout bounds New's ping of each member.
	pingTimeout = 5 * time.Second
)

// Status describes a replicated store's members.
type Status struct {
	// Writer is the index of the member that takes writes and answers
	// reads: 0 for the primary, i for replicas[i-1].
	Writer int
	// Down lists the members left out after a failure.
	Down []int
	// Failovers counts how often the writer moved.
	Failovers uint64
	// CopyFailures counts copies of writes that a member that was up did
	// not take.
	CopyFailures uint64
	// Diverged counts copies refused because the replica held a write of
	// another history (see the package doc).
	Diverged uint64
}

// errDiverged is a copy's outcome when the replica holds a write of another
// history.
var errDiverged = errors.New("replicated: the replica holds a write of another history")

// Store keeps every record on a primary and its replicas. It is an
// httpsession.Store with every optional interface: Touch, List,
// DeleteExpired and OwnerKeys work when every member implements the
// interface, and answer an error wrapping httpsession.ErrNotSupported
// otherwise, which the Manager treats as a store without it. Ping reports
// an error only when no member answers: the store works while one does;
// Status tells which are down. Create it with New.
type Store struct {
	members      []httpsession.Store
	retryAfter   time.Duration
	tombstoneTTL time.Duration
	log          *slog.Logger

	mu           sync.Mutex
	writer       int
	downSince    []time.Time // zero for a member that is up
	failovers    uint64
	copyFailures uint64
	diverged     uint64
}

// New returns a store that keeps every record on primary and on each of
// replicas (at least one), after checking that every member that
// implements httpsession.Pinger answers.
func New(primary httpsession.Store, replicas []httpsession.Store, opts Options) (*Store, error) {
	if primary == nil {
		return nil, errors.New("replicated: New needs a primary store")
	}
	if len(replicas) == 0 {
		return nil, errors.New("replicated: New needs at least one replica")
	}
	members := append([]httpsession.Store{primary}, replicas...)
	if len(members) > maxMembers {
		return nil, fmt.Errorf("replicated: %d members: want at most %d", len(members), maxMembers)
	}
	for i, m := range members {
		if m == nil {
			return nil, fmt.Errorf("replicated: %s is nil", name(i))
		}
		if p, ok := m.(httpsession.Pinger); ok {
			ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
			err := p.Ping(ctx)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("replicated: %s does not answer: %w", name(i), err)
			}
		}
	}
	s := &Store{
		members:      members,
		retryAfter:   opts.RetryAfter,
		tombstoneTTL: opts.TombstoneTTL,
		log:          opts.Logger,
		downSince:    make([]time.Time, len(members)),
	}
	if s.retryAfter <= 0 {
		s.retryAfter = defaultRetryAfter
	}
	if s.tombstoneTTL <= 0 {
		s.tombstoneTTL = defaultTombstoneTTL
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s, nil
}

// Get reads the record from the writer, moving on to the next member when
// the writer is down.
func (s *Store) Get(ctx context.Context, key string) (httpsession.Record, error) {
	var rec httpsession.Record
	_, err := s.onWriter(ctx, func(w int) (err error) {
		rec, err = s.get(ctx, w, key)
		return err
	})
	return rec, err
}

// get reads the record under key from member i.
func (s *Store) get(ctx context.Context, i int, key string) (httpsession.Record, error) {
	mr, err := s.members[i].Get(ctx, key)
	if err != nil {
		return httpsession.Record{}, fmt.Errorf("replicated: %s: %w", name(i), err)
	}
	h, data, k := decode(mr.Data)
	if k != record {
		return httpsession.Record{}, fmt.Errorf("replicated: %s: no record: %w", name(i), httpsession.ErrNotFound)
	}
	return httpsession.Record{Data: data, Expires: mr.Expires, Version: h.version, Owner: mr.Owner}, nil
}

// copyOf is a write to copy to the other members.
type copyOf struct {
	h      header
	create bool
	rec    httpsession.Record // Data is the member's value, Version unused
}

// Put decides the compare-and-set on the writer and copies the write to
// every other member that is up.
func (s *Store) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	var c copyOf
	w, err := s.onWriter(ctx, func(w int) (err error) {
		c, err = s.cas(ctx, w, key, rec)
		return err
	})
	if err != nil {
		return 0, err
	}
	diverged := false
	for _, f := range s.followers(w) {
		err := s.copyTo(ctx, f.i, key, c)
		if errors.Is(err, errDiverged) {
			diverged, err = true, nil
			s.mu.Lock()
			s.diverged++
			s.mu.Unlock()
		}
		s.settle(ctx, f, err)
	}
	switch {
	case diverged && !s.isWriter(w):
		// Another write reached the new writer first: the Manager's
		// reload and replay will put this one on top of it.
		return 0, fmt.Errorf("replicated: %s failed while this write was being copied, and the new writer holds another: %w",
			name(w), httpsession.ErrConflict)
	case diverged:
		s.log.Warn("replicated: a replica holds a write that does not follow the writer's; does another process write to it as its writer?",
			"writer", name(w))
	}
	return c.h.version, nil
}

// cas writes rec on member w if the version there is rec.Version.
func (s *Store) cas(ctx context.Context, w int, key string, rec httpsession.Record) (copyOf, error) {
	m := s.members[w]
	prev, k, mv, err := s.read(ctx, w, key)
	if err != nil {
		return copyOf{}, err
	}
	switch {
	case k == record && prev.version != rec.Version:
		return copyOf{}, fmt.Errorf("replicated: version %d is stored, not %d: %w", prev.version, rec.Version, httpsession.ErrConflict)
	case k != record && rec.Version != 0:
		return copyOf{}, fmt.Errorf("replicated: version %d: the record is gone: %w", rec.Version, httpsession.ErrConflict)
	}
	c := copyOf{h: next(prev, k, w, newVersion(rec.Version)), create: rec.Version == 0, rec: rec}
	c.rec.Data = encodeRecord(c.h, rec.Data)
	c.rec.Version = mv
	if _, err := m.Put(ctx, key, c.rec); err != nil {
		return copyOf{}, fmt.Errorf("replicated: %s: %w", name(w), err)
	}
	return c, nil
}

// read returns the header, kind and member version of the record under key
// on member i; foreign and 0 when there is none.
func (s *Store) read(ctx context.Context, i int, key string) (header, kind, uint64, error) {
	mr, err := s.members[i].Get(ctx, key)
	switch {
	case errors.Is(err, httpsession.ErrNotFound):
		return header{}, foreign, 0, nil
	case err != nil:
		return header{}, foreign, 0, fmt.Errorf("replicated: %s: %w", name(i), err)
	}
	h, _, k := decode(mr.Data)
	return h, k, mr.Version, nil
}

// newVersion returns a random version other than old, below 2^52 so that
// versions stay exact as JSON numbers.
func newVersion(old uint64) uint64 {
	for {
		if v := rand.Uint64N(1<<52) + 1; v != old {
			return v
		}
	}
}

// copyTo writes the copy c on member i unless the member holds it or a
// later write, or one of another history (errDiverged).
func (s *Store) copyTo(ctx context.Context, i int, key string, c copyOf) error {
	return s.overwrite(ctx, i, key, func(cur header, k kind) (httpsession.Record, error) {
		switch copyOnto(cur, k, c.h, c.create) {
		case skip:
			return httpsession.Record{}, errSkip
		case diverged:
			return httpsession.Record{}, errDiverged
		}
		return c.rec, nil
	})
}

// errSkip ends an overwrite without writing.
var errSkip = errors.New("skip")

// overwrite replaces the record under key on member i with what decide
// returns for the record there, with the member's compare-and-set, and
// tries again when the record changes in between.
func (s *Store) overwrite(ctx context.Context, i int, key string, decide func(cur header, k kind) (httpsession.Record, error)) error {
	for range copyAttempts {
		cur, k, mv, err := s.read(ctx, i, key)
		if err != nil {
			return err
		}
		rec, err := decide(cur, k)
		if errors.Is(err, errSkip) {
			return nil
		}
		if err != nil {
			return err
		}
		rec.Version = mv
		_, err = s.members[i].Put(ctx, key, rec)
		if !errors.Is(err, httpsession.ErrConflict) {
			if err != nil {
				return fmt.Errorf("replicated: %s: %w", name(i), err)
			}
			return nil
		}
	}
	return fmt.Errorf("replicated: %s: the record kept changing: %w", name(i), httpsession.ErrConflict)
}

// Delete leaves a tombstone under key on the writer, then on every other
// member that is up.
func (s *Store) Delete(ctx context.Context, key string) error {
	w, err := s.onWriter(ctx, func(w int) error { return s.bury(ctx, w, key) })
	if err != nil {
		return err
	}
	for _, f := range s.followers(w) {
		s.settle(ctx, f, s.bury(ctx, f.i, key))
	}
	return nil
}

// bury replaces the record under key on member i with a tombstone.
func (s *Store) bury(ctx context.Context, i int, key string) error {
	expires := time.Now().Add(s.tombstoneTTL)
	return s.overwrite(ctx, i, key, func(cur header, k kind) (httpsession.Record, error) {
		if k == tombstone {
			return httpsession.Record{}, errSkip
		}
		return httpsession.Record{Data: encodeTombstone(tombstoneSeq(cur, k)), Expires: expires}, nil
	})
}

// Touch moves the expiry of the live record under key on the writer, then
// on every other member that is up and holds it.
func (s *Store) Touch(ctx context.Context, key string, expires time.Time) error {
	if !all[httpsession.Toucher](s.members) {
		return lacks("Touch")
	}
	w, err := s.onWriter(ctx, func(w int) error {
		// A tombstone is no record to touch.
		if _, err := s.get(ctx, w, key); err != nil {
			return err
		}
		return s.members[w].(httpsession.Toucher).Touch(ctx, key, expires)
	})
	if err != nil {
		return err
	}
	for _, f := range s.followers(w) {
		s.settle(ctx, f, s.members[f.i].(httpsession.Toucher).Touch(ctx, key, expires))
	}
	return nil
}

// Ping reports an error only when no member answers. A member that does
// not implement httpsession.Pinger counts as answering.
func (s *Store) Ping(ctx context.Context) error {
	var errs []error
	for i, m := range s.members {
		p, ok := m.(httpsession.Pinger)
		if !ok {
			return nil
		}
		err := p.Ping(ctx)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", name(i), err))
	}
	return fmt.Errorf("replicated: no member answers: %w", errors.Join(errs...))
}

// Status reports which member writes and which are down.
func (s *Store) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{Writer: s.writer, Failovers: s.failovers, CopyFailures: s.copyFailures, Diverged: s.diverged}
	for i, t := range s.downSince {
		if !t.IsZero() {
			st.Down = append(st.Down, i)
		}
	}
	return st
}

// List lists the writer's records, skipping tombstones, and moves on to
// the next member if the writer fails before the first record.
func (s *Store) List(ctx context.Context, fn func(key string, rec httpsession.Record) bool) error {
	if !all[httpsession.Lister](s.members) {
		return lacks("List")
	}
	_, err := s.onWriter(ctx, func(w int) error {
		started := false
		err := s.members[w].(httpsession.Lister).List(ctx, func(key string, mr httpsession.Record) bool {
			h, data, k := decode(mr.Data)
			if k != record {
				return true
			}
			started = true
			return fn(key, httpsession.Record{Data: data, Expires: mr.Expires, Version: h.version, Owner: mr.Owner})
		})
		if err != nil {
			err = fmt.Errorf("replicated: %s: %w", name(w), err)
			if started {
				err = finalError{err}
			}
		}
		return err
	})
	return err
}

// OwnerKeys asks the writer's owner index. Tombstones have no owner.
func (s *Store) OwnerKeys(ctx context.Context, owner string) ([]string, error) {
	if !all[httpsession.OwnerIndex](s.members) {
		return nil, lacks("OwnerKeys")
	}
	var keys []string
	_, err := s.onWriter(ctx, func(w int) (err error) {
		keys, err = s.members[w].(httpsession.OwnerIndex).OwnerKeys(ctx, owner)
		return err
	})
	return keys, err
}

// DeleteExpired deletes expired records (and tombstones) on the writer and
// then on every other member that is up, and reports how many the writer
// removed.
func (s *Store) DeleteExpired(ctx context.Context, limit int) (int, error) {
	if !all[httpsession.Cleaner](s.members) {
		return 0, lacks("DeleteExpired")
	}
	var n int
	w, err := s.onWriter(ctx, func(w int) (err error) {
		n, err = s.members[w].(httpsession.Cleaner).DeleteExpired(ctx, limit)
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, f := range s.followers(w) {
		_, err := s.members[f.i].(httpsession.Cleaner).DeleteExpired(ctx, limit)
		s.settle(ctx, f, err)
	}
	return n, nil
}

// all reports whether every member implements I.
func all[I any](members []httpsession.Store) bool {
	for _, m := range members {
		if _, ok := m.(I); !ok {
			return false
		}
	}
	return true
}

// lacks is the error of a method that not every member has.
func lacks(method string) error {
	return fmt.Errorf("replicated: not every member has %s: %w", method, httpsession.ErrNotSupported)
}
