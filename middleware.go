package httpsession

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"time"

	"github.com/httpsession/httpsession/codec"
	"github.com/httpsession/httpsession/internal/encbuf"
	"github.com/httpsession/httpsession/internal/header"
	"github.com/httpsession/httpsession/internal/storectx"
)

// This file is the request path, in request order: Handler reads the token,
// loads the session, checks the client, serves the request and commits
// (save, then token action) before the first byte of the response; changes
// made after that are saved when the handler returns. load, save and write,
// the store side of it, follow in the same order.

// Handler returns middleware that gives every request a session: it loads
// the session before next runs and saves it just before the response
// starts, so a new or renewed token rides on the response. Changes made
// after the response started are saved when next returns. A handler that
// panics or answers 5xx saves none of its changes, but a Destroy, and the
// end of the old token after a Renew, are carried out whatever the
// outcome. Use it as r.Use(m.Handler) with chi; several Managers (with
// different cookie names) can wrap one handler.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &responseWriter{ResponseWriter: w, m: m}
		if m.vary != "" {
			header.Add(w.Header(), "Vary", m.vary, &sw.vary)
		}
		s := &sw.s
		// 1. Read the token and load its session, or start a new one.
		if err := m.load(r.Context(), m.transport.ReadToken(r), s, &sw.loadCtx); err != nil {
			m.fail(w, r, err)
			return
		}
		s.w = sw
		// 2. Check that the session's own client sends it.
		if m.cfg.Client.Record {
			m.checkClient(r, s)
		}
		// 3. Serve, with the session in the request's context.
		sw.ctx = sessionContext{r.Context(), s}
		sw.r = r.WithContext(&sw.ctx)
		defer sw.finish()
		next.ServeHTTP(sw, sw.r)
		sw.returned = true
	})
}

// finish commits the session if the response never started, or saves what
// changed after it started. After a panic or a 5xx only a Destroy or a
// Renew's old record is carried out; a panic goes on up.
func (w *responseWriter) finish() {
	switch {
	case !w.started && w.returned:
		w.commit(http.StatusOK)
	case !w.started:
		w.commit(http.StatusInternalServerError)
	case !w.failed:
		w.saveLate(w.returned && w.status < 500)
	}
}

func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
	// A store call that ran out of StoreTimeout while the client still
	// waits is a store that did not answer in time: unavailable (503).
	if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrUnavailable) && r.Context().Err() == nil {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	m.cfg.Logger.Error("httpsession: "+failure(err), "method", r.Method, "path", r.URL.Path, "err", err)
	m.cfg.ErrorHandler(w, r, err)
}

// failure names the kind of a failed load or save for the log, so that an
// application's bug is not reported as the store's.
func failure(err error) string {
	switch {
	case errors.Is(err, ErrEncoding):
		return "session encoding failure"
	case errors.Is(err, ErrTooLarge):
		return "session too large"
	case errors.Is(err, ErrUnavailable):
		return "store unavailable"
	case errors.Is(err, ErrTooManySessions):
		return "new session refused"
	}
	return "store failure"
}

// checkClient records the client of a new session and ends a stored one
// that another client presents. A stolen token is worth nothing
// afterwards, to the thief or to its owner.
func (m *Manager) checkClient(r *http.Request, s *Session) {
	ua, ip := r.UserAgent(), m.cfg.Client.IP(r)
	if len(ua) > 256 {
		ua = ua[:256]
	}
	c := m.cfg.Client
	if s.status == StatusUnmodified && (c.BindIP && s.st.IP != ip || c.BindUserAgent && s.st.UserAgent != ua) {
		m.cfg.Logger.Warn("httpsession: session presented by another client; destroyed", "session", logID(s.token))
		s.Destroy()
	}
	if s.isNew {
		s.st.UserAgent, s.st.IP = ua, ip
	}
}

func remoteIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// responseWriter saves the session before the first byte of the response.
type responseWriter struct {
	http.ResponseWriter
	m        *Manager
	r        *http.Request
	s        Session          // one allocation for the wrapper, the session
	ctx      sessionContext   // and the context that carries it
	vary     [1]string        // the values of the headers it sets, kept
	noStore  [1]string        // here rather than in allocations of their own
	loadCtx  storectx.Context // the contexts of the load's store calls
	saveCtx  storectx.Context // and of the commit's
	started  bool             // the session was committed and the response started
	failed   bool             // the save failed; the error handler answered instead
	returned bool             // the handler returned rather than panicked
	status   int
}

// commit saves the session and sets the token headers, once, before the
// status line goes out. A failed save turns the response into the error
// handler's, unless the handler already answers with an error.
func (w *responseWriter) commit(status int) {
	w.started, w.status = true, status
	if w.m.idle(&w.s) {
		return
	}
	ctx := w.saveCtx.Start(w.r.Context(), w.m.cfg.StoreTimeout)
	defer w.saveCtx.Stop()
	act, err := w.m.save(ctx, &w.s, true, status < 500)
	switch {
	case err == nil || errors.Is(err, ErrInterrupted):
		w.tell(act)
	case status >= 500:
		w.m.cfg.Logger.Error("httpsession: ending a session after a failed request: "+failure(err), "path", w.r.URL.Path, "err", err)
	default:
		w.failed = true
		w.m.fail(w.ResponseWriter, w.r, err)
	}
}

// tell sends the client its new token or tells it to forget the old one.
func (w *responseWriter) tell(act tokenAction) {
	switch act {
	case actKeep:
		return
	case actClear:
		header.Set(w.Header(), "Cache-Control", "no-store", &w.noStore)
		w.m.transport.ClearToken(w.ResponseWriter, w.r)
		return
	}
	// Shared caches must not store a response that carries a token.
	header.Set(w.Header(), "Cache-Control", "no-store", &w.noStore)
	s := &w.s
	s.mu.Lock()
	token, expires := s.token, time.Time{}
	if s.st.Persist || s.st.Lifetime == 0 && w.m.persist {
		expires = s.st.Deadline
	}
	s.mu.Unlock()
	w.m.transport.WriteToken(w.ResponseWriter, w.r, token, expires)
}

// saveLate saves changes made after the response started; keep is false
// after a panic or a 5xx.
func (w *responseWriter) saveLate(keep bool) {
	if w.m.idle(&w.s) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.r.Context()), w.m.cfg.StoreTimeout)
	defer cancel()
	if _, err := w.m.save(ctx, &w.s, false, keep); err != nil && !errors.Is(err, ErrInterrupted) {
		w.m.cfg.Logger.Error("httpsession: saving session changes made after the response started: "+failure(err), "path", w.r.URL.Path, "err", err)
	}
}

func (w *responseWriter) WriteHeader(status int) {
	if status >= 100 && status < 200 && status != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(status) // informational: the response has not started
		return
	}
	if !w.started {
		w.commit(status)
	}
	if !w.failed {
		w.ResponseWriter.WriteHeader(status)
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	if !w.started {
		w.commit(http.StatusOK)
	}
	if w.failed {
		return len(b), nil // the error handler's response stands
	}
	return w.ResponseWriter.Write(b)
}

// FlushError commits the session and flushes; http.ResponseController uses
// it.
func (w *responseWriter) FlushError() error {
	if !w.started {
		w.commit(http.StatusOK)
	}
	if w.failed {
		return nil
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush implements http.Flusher.
func (w *responseWriter) Flush() {
	_ = w.FlushError()
}

// Hijack commits the session and hands over the connection.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.started {
		w.commit(http.StatusSwitchingProtocols)
	}
	if w.failed {
		return nil, nil, errors.New("httpsession: session save failed; connection not hijacked")
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped ResponseWriter for http.ResponseController.
func (w *responseWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

// Load returns the session of token for code outside an HTTP request
// (websocket loops, jobs). A token that is empty, malformed, unknown or
// expired gives a new, empty session; only a store failure is an error.
func (m *Manager) Load(ctx context.Context, token string) (*Session, error) {
	s := new(Session)
	if err := m.load(ctx, token, s, new(storectx.Context)); err != nil {
		return nil, err
	}
	return s, nil
}

// Save writes the changes of s made since it was loaded or last saved and
// carries out a Renew or Destroy; a second Save without changes in between
// writes nothing. It returns an error wrapping ErrInterrupted when the
// changes were dropped because another request ended or renewed the
// session.
//
// On the session of the request a handler serves, Save saves now and puts
// a new token on the response, for a redirect or a long stream that
// follows; once the response has started, a Save that needs to send a
// token fails and says so. Outside a request, s.Token is afterwards the
// token to give the client (it changes for a new or renewed session, and
// is "" after Destroy).
func (m *Manager) Save(ctx context.Context, s *Session) error {
	if s.m != m {
		return errors.New("httpsession: Save of a session another Manager loaded")
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StoreTimeout)
	defer cancel()
	inRequest := s.w != nil && !s.w.started
	act, err := m.save(ctx, s, s.w == nil || inRequest, true)
	if inRequest && err == nil {
		s.w.tell(act)
	}
	return err
}

var (
	errExpired = errors.New("session expired")
	errRenewed = errors.New("session renewed")
	// ErrInterrupted means another request ended or renewed the session
	// while this one ran, or the token was renewed a moment ago (see
	// Config.RenewGrace): this request's changes were dropped. Manager.Save
	// returns it; in the middleware it is no error, and Session.Status
	// reports StatusInterrupted.
	ErrInterrupted = errors.New("httpsession: session ended or renewed by another request; changes dropped")
	// errLateToken is returned by a save after the response has started
	// when the session needs a token the client can no longer receive.
	errLateToken = errors.New("httpsession: the session needs a new token but the response has started; the change was not saved")
	// errPanic wraps a panic in a store or codec call.
	errPanic = errors.New("httpsession: panic in a store or codec call")
)

// recoverTo turns a panic in a store or codec call into an error, so a
// broken driver costs one request a clean error response, not the
// connection. It never names the session's token.
func recoverTo(err *error) {
	if v := recover(); v != nil {
		*err = fmt.Errorf("%w: %v", errPanic, v)
	}
}

// startNew makes s a new, empty session.
func (m *Manager) startNew(s *Session, now time.Time) {
	*s = Session{m: m, isNew: true, status: StatusNew, st: codec.State{Created: now, Deadline: now.Add(m.cfg.Lifetime)}}
	s.ops = s.opsBuf[:0]
}

// load fills s with the session of token, or a new one, making its store
// calls in sc. A token that cannot be valid costs no store call.
func (m *Manager) load(ctx context.Context, token string, s *Session, sc *storectx.Context) (err error) {
	now := m.now()
	m.startNew(s, now)
	if token == "" || !validToken(token, m.cfg.NewToken != nil) {
		return nil
	}
	defer recoverTo(&err)
	ctx = sc.Start(ctx, m.cfg.StoreTimeout)
	defer sc.Stop()
	key := StoreKey(token)
	rec, err := m.cfg.Store.Get(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		m.stats.StoreErrors.Add(1)
		return fmt.Errorf("httpsession: loading a session: %w", err)
	}
	m.stats.Loads.Add(1)
	s.token, s.client, s.key, s.version, s.expires = token, holdsCurrent, key, rec.Version, rec.Expires
	s.isNew, s.status = false, StatusUnmodified
	switch err := m.decode(rec, &s.st, now, true); {
	case err == nil:
		return nil
	case errors.Is(err, errRenewed):
		// Renewed a moment ago: the request sees no data and can neither
		// save nor get a token, so it cannot undo the login.
		m.startNew(s, now)
		s.isNew, s.status = false, StatusInterrupted
		return nil
	case errors.Is(err, errExpired):
		if !s.st.Renewed {
			m.stats.Expired.Add(1)
			m.hook(ctx, m.cfg.Hooks.OnExpire, s.infoLocked())
		}
		// Expiry is decided here, on the stored timestamps; the store's
		// own TTL is only garbage collection.
		if err := m.cfg.Store.Delete(ctx, key); err != nil {
			m.cfg.Logger.Warn("httpsession: deleting an expired session", "session", logID(token), "err", err)
		}
	default:
		m.cfg.Logger.Warn("httpsession: undecodable session record; starting a new session", "session", logID(token), "err", err)
	}
	m.startNew(s, now)
	return nil
}

// decode fills st from rec and drops keys whose own expiry has passed. It
// reports errRenewed for a live grace marker and errExpired for a record
// past its deadline. When owned, rec came from the Store's Get, which
// hands its Data over, and nothing else will see or change it: a codec
// that can decode lazily (codec.LazyDecoder) keeps it and decodes each
// value when the request first reads it.
func (m *Manager) decode(rec Record, st *codec.State, now time.Time, owned bool) error {
	var err error
	if ld, ok := m.cfg.Codec.(codec.LazyDecoder); ok && owned {
		err = ld.DecodeLazy(rec.Data, st)
	} else {
		err = m.cfg.Codec.Decode(rec.Data, st)
	}
	if err != nil {
		return err
	}
	if !now.Before(rec.Expires) || !now.Before(st.Deadline) {
		return errExpired
	}
	if st.Renewed {
		return errRenewed
	}
	for k, t := range st.KeyExpiry {
		if !now.Before(t) {
			st.DeleteValue(k)
			delete(st.KeyExpiry, k)
		}
	}
	return nil
}

// tokenAction tells the transport what to do after a save.
type tokenAction uint8

const (
	actKeep tokenAction = iota
	actSend
	actClear
)

// idle reports whether a save of s would do nothing, so the common
// read-only request skips it.
func (m *Manager) idle(s *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ops) == 0 && (s.version != 0 || s.token == "") && s.next.old == "" &&
		s.next.err == nil && s.action() == actKeep && !m.touchDue(s, m.now())
}

// save writes what changed in s, carries out its pending action and says
// what the client must be told. keep is false when the handler failed: its
// changes are dropped, but a Destroy or a Renew's old record is still
// carried out. canSend reports whether a new token can still reach the
// client.
func (m *Manager) save(ctx context.Context, s *Session, canSend, keep bool) (act tokenAction, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer recoverTo(&err)
	if s.status == StatusInterrupted {
		s.ops, s.next = s.ops[:0], pending{}
		return actKeep, ErrInterrupted
	}
	now := m.now()
	// 0. A Renew closes the old record before the new one exists, with
	// compare-and-set on the version its data came from: a write that
	// landed since is carried into the new record, and a session that
	// another request ended meanwhile is not renewed.
	if n := s.next; n.old != "" && n.ended == nil && keep {
		if err := m.closeRenewed(ctx, s, now); err != nil {
			return actKeep, err
		}
	}
	// 1. Write the changes, or slide the idle expiry.
	insert := s.version == 0 && s.token != ""
	switch {
	case !keep:
		s.ops = s.ops[:0]
	case s.next.err != nil:
		return actKeep, s.next.err
	case insert && !canSend:
		return actKeep, errLateToken
	case insert && s.isNew && m.cfg.AllowCreate != nil && s.w != nil:
		if err := m.cfg.AllowCreate(s.w.r); err != nil {
			return actKeep, fmt.Errorf("httpsession: new session refused: %w", err)
		}
		fallthrough
	case len(s.ops) > 0 || insert:
		if err := m.write(ctx, s, now); err != nil {
			return actKeep, err
		}
	case m.touchDue(s, now):
		m.touch(ctx, s, now)
	}
	// 2. The record Renew replaced or Destroy ended goes after the new one
	// is safe, so a failure never leaves the client without a session.
	if s.next.old != "" {
		if err := m.retire(ctx, s, keep); err != nil {
			return actKeep, err
		}
	}
	// 3. Say what the client must be told.
	act, s.client, s.next = s.action(), holdsNothing, pending{}
	if s.version != 0 {
		s.client = holdsCurrent
	}
	return act, nil
}

// touchDue reports whether an unchanged stored session should slide its
// idle expiry now: at most once per TouchInterval.
func (m *Manager) touchDue(s *Session, now time.Time) bool {
	return s.version != 0 && m.cfg.IdleTimeout > 0 && m.expiry(&s.st, now).Sub(s.expires) >= m.cfg.TouchInterval
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

// Bounds on the conflict loop of a save. Each retry waits a random time up
// to a doubling ceiling, so writers that collided spread out.
const (
	maxSaveAttempts = 100
	backoffBase     = 500 * time.Microsecond
	backoffCeiling  = 128 * time.Millisecond
)

// write puts the session with compare-and-set. On a conflict it reloads the
// record, replays this request's changes on it and tries again. If the
// record is gone, another request destroyed or renewed the session: the
// changes are dropped, never written back, and write reports ErrInterrupted.
func (m *Manager) write(ctx context.Context, s *Session, now time.Time) error {
	key := s.key
	if s.version == 0 {
		key = StoreKey(s.token)
	}
	for attempt := 1; ; attempt++ {
		s.st.Saved = now
		data, buf, err := encbuf.Encode(m.cfg.Codec, &s.st)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrEncoding, err)
		}
		if m.cfg.MaxSize > 0 && len(data) > m.cfg.MaxSize {
			encbuf.Release(buf, data)
			return fmt.Errorf("httpsession: session is %d bytes, over MaxSize %d: %w", len(data), m.cfg.MaxSize, ErrTooLarge)
		}
		rec := Record{Data: data, Expires: m.expiry(&s.st, now), Version: s.version, Owner: s.st.Owner}
		created := s.version == 0
		v, err := m.cfg.Store.Put(ctx, key, rec)
		encbuf.Release(buf, data) // a store never keeps Data
		if err == nil {
			s.key, s.version, s.expires, s.ops = key, v, rec.Expires, s.ops[:0]
			m.stats.Saves.Add(1)
			if created && (s.next.old == "" || s.next.ended != nil) {
				m.stats.Created.Add(1)
				m.hook(ctx, m.cfg.Hooks.OnCreate, s.infoLocked())
			}
			return nil
		}
		if !errors.Is(err, ErrConflict) || s.version == 0 {
			if !errors.Is(err, ErrTooLarge) {
				m.stats.StoreErrors.Add(1)
			}
			return fmt.Errorf("httpsession: saving a session: %w", err)
		}
		st, fresh, err := m.afterConflict(ctx, s, key, attempt, now, "saving a session", err)
		if err != nil {
			return err
		}
		for _, o := range s.ops {
			o.apply(&st)
		}
		s.st, s.version, s.expires = st, fresh.Version, fresh.Expires
	}
}

// afterConflict is the turn of a compare-and-set loop that lost: it counts
// the conflict, waits a random time under a doubling ceiling, so writers
// that collided spread out, and reads the record under key again. A record
// that is gone, expired or renewed means another request ended the
// session: this request's changes are dropped and afterConflict reports
// ErrInterrupted. The caller replays its changes on the state returned.
func (m *Manager) afterConflict(ctx context.Context, s *Session, key string, attempt int, now time.Time, what string, conflict error) (codec.State, Record, error) {
	m.stats.Conflicts.Add(1)
	if attempt == maxSaveAttempts {
		return codec.State{}, Record{}, fmt.Errorf("httpsession: %s: gave up after %d conflicts: %w", what, attempt, conflict)
	}
	ceiling := min(backoffBase<<min(attempt-1, 8), backoffCeiling)
	if err := m.sleep(ctx, rand.N(ceiling)+time.Microsecond); err != nil {
		return codec.State{}, Record{}, fmt.Errorf("httpsession: %s: %w", what, err)
	}
	fresh, err := m.cfg.Store.Get(ctx, key)
	var st codec.State
	if err == nil {
		err = m.decode(fresh, &st, now, true)
	}
	if errors.Is(err, ErrNotFound) || errors.Is(err, errExpired) || errors.Is(err, errRenewed) {
		m.cfg.Logger.Debug("httpsession: session ended by another request; changes dropped", "session", logID(s.token))
		s.ops, s.next = s.ops[:0], pending{}
		s.mark(StatusInterrupted)
		return codec.State{}, Record{}, ErrInterrupted
	}
	if err != nil {
		m.stats.StoreErrors.Add(1)
		return codec.State{}, Record{}, fmt.Errorf("httpsession: reloading a session after a conflict: %w", err)
	}
	return st, fresh, nil
}

// sleep waits d or until ctx ends. It is the only wait of the request path
// (the conflict backoff), a Manager field so a test can replace it.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// retire deletes the record Destroy ended, or the one a failed handler's
// Renew replaced. A saved Renew's old record holds its grace marker
// already (closeRenewed).
func (m *Manager) retire(ctx context.Context, s *Session, keep bool) error {
	n := s.next
	if !n.closed { // a Renew's old record is closed already (closeRenewed)
		if err := m.cfg.Store.Delete(ctx, n.old); err != nil {
			m.stats.StoreErrors.Add(1)
			return fmt.Errorf("httpsession: ending the old session: %w", err)
		}
	}
	switch {
	case n.ended != nil:
		m.stats.Destroyed.Add(1)
		m.hook(ctx, m.cfg.Hooks.OnDestroy, *n.ended)
	case keep:
		m.stats.Renewed.Add(1)
		m.hook(ctx, m.cfg.Hooks.OnRenew, s.infoLocked())
	}
	return nil
}

// closeRenewed replaces the record a Renew copied by a grace marker (by a
// record that expires at once when RenewGrace is off: a compare-and-set
// delete), if it is still the version the copy came from. If another
// request wrote it meanwhile, the copy is rebuilt from the fresh record
// and this request's changes since the Renew replayed on it; if the
// record is gone, the session ended and the Renew is dropped.
func (m *Manager) closeRenewed(ctx context.Context, s *Session, now time.Time) error {
	marker := codec.State{Created: now, Deadline: now.Add(max(m.cfg.RenewGrace, 0)), Renewed: true}
	data, err := m.cfg.Codec.Encode(&marker)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrEncoding, err)
	}
	for attempt := 1; ; attempt++ {
		_, err := m.cfg.Store.Put(ctx, s.next.old, Record{Data: data, Expires: marker.Deadline, Version: s.next.oldVer})
		if err == nil {
			s.next.closed = true
			return nil
		}
		if !errors.Is(err, ErrConflict) {
			m.stats.StoreErrors.Add(1)
			return fmt.Errorf("httpsession: ending the old session: %w", err)
		}
		st, fresh, err := m.afterConflict(ctx, s, s.next.old, attempt, now, "ending the old session", err)
		if err != nil {
			return err
		}
		st.Created, st.Deadline, st.Lifetime, st.Persist = s.st.Created, s.st.Deadline, s.st.Lifetime, s.st.Persist
		for _, o := range s.ops {
			o.apply(&st)
		}
		s.st, s.next.oldVer = st, fresh.Version
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
		data, buf, encErr := encbuf.Encode(m.cfg.Codec, &s.st)
		if encErr != nil {
			err = fmt.Errorf("%w: %w", ErrEncoding, encErr)
		} else {
			var v uint64
			v, err = m.cfg.Store.Put(ctx, s.key, Record{Data: data, Expires: exp, Version: s.version, Owner: s.st.Owner})
			encbuf.Release(buf, data)
			if err == nil {
				s.version = v
			}
		}
	}
	switch {
	case err == nil:
		s.expires = exp
		m.stats.Touches.Add(1)
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrConflict):
		// Another request wrote or ended the session; either way there is
		// nothing to slide.
	default:
		m.stats.StoreErrors.Add(1)
		m.cfg.Logger.Warn("httpsession: sliding the idle expiry", "session", logID(s.token), "err", err)
	}
}
