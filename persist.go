package httpsession

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/httpsession/httpsession/codec"
)

// Bounds on the conflict loop of a save. Each retry waits a random time up
// to a doubling ceiling, so writers that collided spread out.
const (
	maxSaveAttempts = 100
	backoffBase     = 500 * time.Microsecond
	backoffCeiling  = 128 * time.Millisecond
)

var (
	errExpired = errors.New("session expired")
	// errLateToken is returned by a save after the response has started
	// when the session needs a token the client can no longer receive.
	errLateToken = errors.New("httpsession: the session got a new token after the response was written; the change was not saved")
)

// Load returns the session of token for code outside an HTTP request
// (websocket loops, jobs). A token that is empty, malformed, unknown or
// expired gives a new, empty session; only a store failure is an error.
func (m *Manager) Load(ctx context.Context, token string) (*Session, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StoreTimeout)
	defer cancel()
	s := new(Session)
	if err := m.load(ctx, token, s); err != nil {
		return nil, err
	}
	return s, nil
}

// Save writes the changes of s made since it was loaded or last saved. After
// Save, s.Token is the token to give the client (it changes for a new or
// renewed session, and is "" after Destroy).
func (m *Manager) Save(ctx context.Context, s *Session) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StoreTimeout)
	defer cancel()
	_, err := m.save(ctx, s, true)
	return err
}

// startNew makes s a new, empty session.
func (m *Manager) startNew(s *Session, now time.Time) {
	*s = Session{m: m, isNew: true, st: codec.State{Created: now, Deadline: now.Add(m.cfg.Lifetime)}}
	s.ops = s.opsBuf[:0]
}

// expiry is the store expiry of a record saved at now: the idle deadline or
// the absolute one, whichever is earlier.
func (m *Manager) expiry(st *codec.State, now time.Time) time.Time {
	if m.cfg.IdleTimeout > 0 {
		if t := now.Add(m.cfg.IdleTimeout); t.Before(st.Deadline) {
			return t
		}
	}
	return st.Deadline
}

// errPanic wraps a panic in a store or codec call.
var errPanic = errors.New("httpsession: panic in a store or codec call")

// recoverTo turns a panic in a store or codec call into an error, so a
// broken driver costs one request a clean error response, not the
// connection. It never names the session's token.
func recoverTo(err *error) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("%w: %v", errPanic, v)
	}
}

// load fills s with the session of token, or a new one. A token that
// cannot be valid costs no store call.
func (m *Manager) load(ctx context.Context, token string, s *Session) (err error) {
	defer recoverTo(&err)
	now := m.now()
	m.startNew(s, now)
	if !m.wellFormed(token) {
		return nil
	}
	key := StoreKey(token)
	rec, err := m.cfg.Store.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		m.stats.storeErrors.Add(1)
		return fmt.Errorf("httpsession: loading a session: %w", err)
	}
	m.stats.loads.Add(1)
	s.token, s.key, s.version, s.expires, s.isNew = token, key, rec.Version, rec.Expires, false
	if err := m.decode(rec, &s.st, now); err != nil {
		if errors.Is(err, errExpired) {
			m.stats.expired.Add(1)
			m.hook(ctx, m.cfg.Hooks.OnExpire, s.infoLocked())
			// Expiry is decided here, on the stored timestamps; the
			// store's own TTL is only garbage collection.
			if err := m.cfg.Store.Delete(ctx, key); err != nil {
				m.cfg.Logger.Warn("httpsession: deleting an expired session", "session", logID(token), "err", err)
			}
		} else {
			m.cfg.Logger.Warn("httpsession: undecodable session record; starting a new session", "session", logID(token), "err", err)
		}
		m.startNew(s, now)
	}
	return nil
}

// wellFormed reports whether token has the shape of a token this Manager
// issues.
func (m *Manager) wellFormed(token string) bool {
	return token != "" && validToken(token, m.cfg.NewToken != nil)
}

// decode fills st from rec and drops keys whose own expiry has passed.
func (m *Manager) decode(rec Record, st *codec.State, now time.Time) error {
	if err := m.cfg.Codec.Decode(rec.Data, st); err != nil {
		return err
	}
	if !now.Before(rec.Expires) || !now.Before(st.Deadline) {
		return errExpired
	}
	for k, t := range st.KeyExpiry {
		if !now.Before(t) {
			delete(st.Values, k)
			delete(st.KeyExpiry, k)
		}
	}
	return nil
}

// tokenAction tells the transport what to do after a save.
type tokenAction uint8

const (
	keepToken tokenAction = iota
	sendToken
	clearToken
)

// save writes what changed in s. canSend reports whether a new token can
// still reach the client.
func (m *Manager) save(ctx context.Context, s *Session, canSend bool) (act tokenAction, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer recoverTo(&err)
	if s.err != nil {
		return keepToken, s.err
	}
	now := m.now()
	if s.changed {
		if s.newToken && !canSend {
			return keepToken, errLateToken
		}
		if err := m.write(ctx, s, now); err != nil {
			return keepToken, err
		}
	} else if m.touchDue(s, now) {
		m.touch(ctx, s, now)
	}
	// A renewed or destroyed record goes after the new one is safe, so a
	// failure never leaves the client without a session it can use.
	if s.oldKey != "" {
		if err := m.cfg.Store.Delete(ctx, s.oldKey); err != nil {
			m.stats.storeErrors.Add(1)
			return keepToken, fmt.Errorf("httpsession: deleting a session: %w", err)
		}
		s.oldKey = ""
		switch {
		case s.ended != nil:
			m.stats.destroyed.Add(1)
			m.hook(ctx, m.cfg.Hooks.OnDestroy, *s.ended)
		case s.renewed:
			m.stats.renewed.Add(1)
			m.hook(ctx, m.cfg.Hooks.OnRenew, s.infoLocked())
		}
		s.ended, s.renewed = nil, false
	}
	switch {
	case s.newToken && s.version != 0:
		s.newToken, s.clear = false, false
		return sendToken, nil
	case s.clear && s.token == "":
		s.clear = false
		return clearToken, nil
	}
	return keepToken, nil
}

// touchDue reports whether an unchanged stored session should slide its
// idle expiry now: at most once per TouchInterval.
func (m *Manager) touchDue(s *Session, now time.Time) bool {
	return s.version != 0 && m.cfg.IdleTimeout > 0 && m.expiry(&s.st, now).Sub(s.expires) >= m.cfg.TouchInterval
}

// idle reports whether a save of s would do nothing, so the common
// read-only request skips it.
func (m *Manager) idle(s *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err == nil && !s.changed && s.oldKey == "" && !s.clear && !m.touchDue(s, m.now())
}

// write puts the session with compare-and-set. On a conflict it reloads the
// record, replays this request's changes on it and tries again. If the
// record is gone, another request destroyed or renewed the session: the
// changes are dropped, never written back.
func (m *Manager) write(ctx context.Context, s *Session, now time.Time) error {
	key := s.key
	if s.version == 0 {
		key = StoreKey(s.token)
	}
	for attempt := 1; ; attempt++ {
		s.st.Saved = now
		data, err := m.cfg.Codec.Encode(&s.st)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrEncoding, err)
		}
		if m.cfg.MaxSize > 0 && len(data) > m.cfg.MaxSize {
			return fmt.Errorf("httpsession: session is %d bytes, over MaxSize %d: %w", len(data), m.cfg.MaxSize, ErrTooLarge)
		}
		rec := Record{Data: data, Expires: m.expiry(&s.st, now), Version: s.version, Owner: s.st.Owner}
		created := s.version == 0
		v, err := m.cfg.Store.Put(ctx, key, rec)
		if err == nil {
			s.key, s.version, s.expires = key, v, rec.Expires
			s.ops, s.changed = s.ops[:0], false
			m.stats.saves.Add(1)
			if created && !s.renewed {
				m.stats.created.Add(1)
				m.hook(ctx, m.cfg.Hooks.OnCreate, s.infoLocked())
			}
			return nil
		}
		if !errors.Is(err, ErrConflict) || s.version == 0 {
			if !errors.Is(err, ErrTooLarge) {
				m.stats.storeErrors.Add(1)
			}
			return fmt.Errorf("httpsession: saving a session: %w", err)
		}
		m.stats.conflicts.Add(1)
		if attempt == maxSaveAttempts {
			return fmt.Errorf("httpsession: saving a session: gave up after %d conflicts: %w", attempt, err)
		}
		if err := backoff(ctx, attempt); err != nil {
			return fmt.Errorf("httpsession: saving a session: %w", err)
		}
		fresh, err := m.cfg.Store.Get(ctx, key)
		var st codec.State
		if err == nil {
			err = m.decode(fresh, &st, now)
		}
		if errors.Is(err, ErrNotFound) || errors.Is(err, errExpired) {
			m.cfg.Logger.Debug("httpsession: session ended by another request; changes dropped", "session", logID(s.token))
			s.ops, s.changed = s.ops[:0], false
			return nil
		}
		if err != nil {
			m.stats.storeErrors.Add(1)
			return fmt.Errorf("httpsession: reloading a session after a conflict: %w", err)
		}
		for _, o := range s.ops {
			o.apply(&st)
		}
		s.st, s.version, s.expires = st, fresh.Version, fresh.Expires
	}
}

// backoff waits a random time below a ceiling that doubles with each
// attempt, or until ctx ends.
func backoff(ctx context.Context, attempt int) error {
	ceiling := backoffBase << min(attempt-1, 8)
	ceiling = min(ceiling, backoffCeiling)
	t := time.NewTimer(rand.N(ceiling) + time.Microsecond)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// touch slides the idle expiry without rewriting the data where the store
// allows. A record that is gone stays gone. Failures are logged, not
// returned: the response is right; only the expiry did not move.
func (m *Manager) touch(ctx context.Context, s *Session, now time.Time) {
	exp := m.expiry(&s.st, now)
	err := ErrNotSupported
	if t, ok := m.cfg.Store.(Toucher); ok {
		err = t.Touch(ctx, s.key, exp)
	}
	if errors.Is(err, ErrNotSupported) {
		var data []byte
		if data, err = m.cfg.Codec.Encode(&s.st); err != nil {
			err = fmt.Errorf("%w: %w", ErrEncoding, err)
		} else {
			var v uint64
			v, err = m.cfg.Store.Put(ctx, s.key, Record{Data: data, Expires: exp, Version: s.version, Owner: s.st.Owner})
			if err == nil {
				s.version = v
			}
		}
	}
	switch {
	case err == nil:
		s.expires = exp
		m.stats.touches.Add(1)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
		// Another request wrote or ended the session; either way there is
		// nothing to slide.
	default:
		m.stats.storeErrors.Add(1)
		m.cfg.Logger.Warn("httpsession: sliding the idle expiry", "session", logID(s.token), "err", err)
	}
}
