package httpsession

import (
	"strconv"
	"sync"
	"time"

	"github.com/httpsession/httpsession/codec"
)

// Session is one client's session. Handlers get it with SessionFrom or
// Manager.From. Its methods are safe for concurrent use by the goroutines
// of one request.
//
// Changes are kept in memory and saved by the Manager before the response
// starts. Values read with Get are not copied: changing a map or slice
// obtained from Get is not saved unless it is stored again with Set.
type Session struct {
	mu sync.Mutex
	m  *Manager
	w  *responseWriter // the request this is the session of; nil after Manager.Load

	token   string // current token; "" until the session needs one
	client  holds  // what the client holds, as far as the Manager knows
	key     string // store key of the stored record; "" when not stored
	version uint64 // version of the stored record; 0 when not stored
	expires time.Time
	st      codec.State
	isNew   bool
	status  Status

	ops    []op  // this request's changes, replayed after a conflict
	opsBuf [2]op // room for the usual one or two changes
	next   pending
}

// pending is what the next save must do besides writing the change log.
// Renew, Destroy and SetLifetime set it; the save carries it out.
type pending struct {
	old    string       // store key of the record Renew replaced or Destroy ended
	oldVer uint64       // its version, for the grace marker's compare-and-set
	closed bool         // the old record is closed already (closeRenewed)
	ended  *SessionInfo // the session Destroy ended, for OnDestroy; nil after Renew
	err    error        // a token that could not be generated
}

// holds is what the client holds for a token.
type holds uint8

const (
	holdsNothing holds = iota // no token of this session
	holdsCurrent              // the token of the stored record, as it should be sent
	holdsStale                // a token to replace or clear: renewed, destroyed, or sent with another lifetime
)

// action is what the client must be told about its token now.
func (s *Session) action() tokenAction {
	switch {
	case s.version != 0 && s.client != holdsCurrent:
		return actSend
	case s.version == 0 && s.client == holdsStale:
		return actClear
	}
	return actKeep
}

// Status says what happened to a session in this request, the strongest
// first: Interrupted, Destroyed, Renewed, Modified, New, Unmodified.
type Status uint8

// The statuses of a session.
const (
	// StatusUnmodified is a stored session this request has not changed.
	StatusUnmodified Status = iota
	// StatusNew is a session this request started and has not changed; it
	// is saved only once it holds something.
	StatusNew
	// StatusModified is a session this request changed.
	StatusModified
	// StatusRenewed is a session that got a new token with Renew.
	StatusRenewed
	// StatusDestroyed is a session ended with Destroy.
	StatusDestroyed
	// StatusInterrupted is a session another request ended or renewed
	// while this one ran, or a token renewed a moment ago (see
	// Config.RenewGrace): this request's changes are dropped, and no
	// token is sent, so the other request's outcome stands.
	StatusInterrupted
)

var statusNames = [...]string{"unmodified", "new", "modified", "renewed", "destroyed", "interrupted"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Status reports what happened to the session in this request.
func (s *Session) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

func (s *Session) mark(st Status) { s.status = max(s.status, st) }

type opKind uint8

const (
	opSet opKind = iota
	opIncr
	opDelete
	opClear
	opUpdate
	opExpire
	opOwner
	opLifetime
)

// op is one logged change. Replaying the log on freshly loaded state gives
// the same result as the request's own view, except that Update functions
// see the fresh values.
type op struct {
	kind  opKind
	key   string
	val   any
	fn    func(any) any
	at    time.Time
	delta int64
}

func (o op) apply(st *codec.State) {
	switch o.kind {
	case opSet:
		st.SetValue(o.key, o.val)
	case opDelete:
		st.DeleteValue(o.key)
		delete(st.KeyExpiry, o.key)
	case opClear:
		st.ClearValues()
		st.KeyExpiry = nil
	case opIncr:
		old, _ := st.Value(o.key)
		n, _ := codec.As[int64](old)
		st.SetValue(o.key, n+o.delta)
	case opUpdate:
		old, _ := st.Value(o.key)
		if v := o.fn(old); v != nil {
			st.SetValue(o.key, v)
		} else {
			st.DeleteValue(o.key)
			delete(st.KeyExpiry, o.key)
		}
	case opExpire:
		if _, ok := st.Value(o.key); !ok {
			return
		}
		if st.KeyExpiry == nil {
			st.KeyExpiry = make(map[string]time.Time)
		}
		st.KeyExpiry[o.key] = o.at
	case opOwner:
		st.Owner = o.key
	case opLifetime:
		st.Lifetime, st.Persist, st.Deadline = time.Duration(o.delta), o.val != nil, o.at
	}
}

// log applies a change and records it for replay; it returns the key's
// value afterwards. A new session gets its token here, so Token can hand it
// out before the save. Token generation fails only with a custom
// Config.NewToken; the save then reports the error.
func (s *Session) log(o op) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logLocked(o)
}

func (s *Session) logLocked(o op) any {
	s.ensureToken()
	o.apply(&s.st)
	s.ops = append(s.ops, o)
	s.mark(StatusModified)
	v, _ := s.st.Value(o.key)
	return v
}

func (s *Session) ensureToken() {
	if s.token != "" {
		return
	}
	t, err := s.m.token()
	if err != nil {
		s.next.err = err
		return
	}
	s.token = t
}

// Get returns the value stored under key, or nil.
func (s *Session) Get(key string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, _ := s.st.Value(key)
	return v
}

// Has reports whether key has a value.
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.st.Value(key)
	return ok
}

// Keys returns the keys of the session in sorted order.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Keys()
}

// Set stores value under key. It is a blind write: if another request
// changes the same key concurrently, the later save wins. Use Update for
// read-modify-write.
func (s *Session) Set(key string, value any) {
	s.log(op{kind: opSet, key: key, val: value})
}

// Delete removes key.
func (s *Session) Delete(key string) {
	s.log(op{kind: opDelete, key: key})
}

// Pop returns the value under key and removes it: a read-once value such
// as a flash message. Two tabs racing for one flash message may both see
// it; flash messages are a convenience, not a guarantee.
func (s *Session) Pop(key string) any {
	s.mu.Lock()
	v, ok := s.st.Value(key)
	s.mu.Unlock()
	if !ok {
		return nil
	}
	s.Delete(key)
	return v
}

// Clear removes every value. The owner and the token stay.
func (s *Session) Clear() {
	s.log(op{kind: opClear})
}

// Update replaces the value under key with fn(old), where old is nil when
// the key is absent; a nil result deletes the key. It returns the new value.
// If the save meets a concurrent change, fn runs again on the fresh value,
// so fn must have no side effects, and it must not call methods of the
// session (it runs under the session's lock). Concurrent Updates of one key
// are never lost.
func (s *Session) Update(key string, fn func(old any) any) any {
	return s.log(op{kind: opUpdate, key: key, fn: fn})
}

// Incr adds delta to the integer under key (absent or non-numeric counts as
// 0) and returns the result as this request sees it. Concurrent increments
// of one key all count.
func (s *Session) Incr(key string, delta int64) int64 {
	n, _ := codec.As[int64](s.log(op{kind: opIncr, key: key, delta: delta}))
	return n
}

// SetKeyExpiry makes key expire d from now, on its own, while the session
// lives on. The expiry stays with the key until the key is deleted or
// expires. It does nothing if key has no value.
func (s *Session) SetKeyExpiry(key string, d time.Duration) {
	s.log(op{kind: opExpire, key: key, at: s.m.now().Add(d)})
}

// SetOwner records the principal (a user id) the session belongs to, so
// that package sessions finds it (sessions.Of, sessions.DestroyOwner). Call
// it at login, together with Renew. An empty owner removes it.
func (s *Session) SetOwner(owner string) {
	s.log(op{kind: opOwner, key: owner})
}

// Owner returns the principal set with SetOwner.
func (s *Session) Owner() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Owner
}

// Token returns the session's token, or "" for a new session that has not
// been changed (and so will not be saved). After Renew it is the new token.
func (s *Session) Token() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token
}

// IsNew reports whether the session was created by this request rather than
// loaded from the store.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isNew
}

// CreatedAt returns when the session was created or last renewed.
func (s *Session) CreatedAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Created
}

// ExpiresAt returns when the session will expire if no further request
// comes: the idle deadline or the absolute one, whichever is earlier.
func (s *Session) ExpiresAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.expiry(&s.st, s.m.now())
}

// SetLifetime gives the session its own absolute lifetime d, counted from
// its creation or last Renew, in place of Config.Lifetime, and its own
// cookie kind: with persist the cookie carries Max-Age and Expires (a
// "remember me" login), without it the cookie ends with the browser
// session. Both are stored with the session and survive Renew; the idle
// timeout still applies. A d of 0 or less goes back to the Manager's
// lifetime and cookie kind.
func (s *Session) SetLifetime(d time.Duration, persist bool) {
	d = max(d, 0)
	o := op{kind: opLifetime, delta: int64(d)}
	if persist && d > 0 {
		o.val = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o.at = s.st.Created.Add(s.m.lifetimeOr(d)) // the deadline, the same at replay
	s.logLocked(o)
	s.retireToken()
}

// retireToken marks the token the client holds as one to replace.
func (s *Session) retireToken() {
	if s.client == holdsCurrent {
		s.client = holdsStale
	}
}

// Renew gives the session a new token and keeps its data; the old token
// stops working when the session is saved (after Config.RenewGrace, during
// which it reaches no data and gets no new session). Call it at login and
// at every change of privilege, so that a token planted before login is
// worthless (session fixation). Renew also restarts the absolute lifetime.
func (s *Session) Renew() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status == StatusInterrupted {
		return
	}
	if s.version != 0 {
		s.next.old, s.next.oldVer, s.next.ended = s.key, s.version, nil
	}
	s.key, s.version, s.token = "", 0, ""
	s.retireToken()
	now := s.m.now()
	s.st.Created, s.st.Deadline = now, now.Add(s.m.lifetimeOr(s.st.Lifetime))
	s.ops = s.ops[:0] // the new record is an insert; there is nothing to replay
	s.mark(StatusRenewed)
	s.ensureToken()
}

// Destroy deletes the session from the store and clears the client's
// token, even if the handler then fails. Changes made after Destroy go to
// a brand-new session with a new token.
func (s *Session) Destroy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status == StatusInterrupted {
		return
	}
	if s.version != 0 || s.next.old != "" && s.next.ended == nil {
		info := s.infoLocked()
		if s.version != 0 {
			s.next.old, s.next.oldVer = s.key, s.version
		}
		info.Key = s.next.old
		s.next.ended = &info
	}
	now := s.m.now()
	ua, ip := s.st.UserAgent, s.st.IP
	s.st = codec.State{Created: now, Deadline: now.Add(s.m.cfg.Lifetime), UserAgent: ua, IP: ip}
	s.key, s.version, s.token = "", 0, ""
	s.retireToken()
	s.ops = s.ops[:0]
	s.isNew = true
	s.mark(StatusDestroyed)
}

// infoLocked describes the session for hooks; s.mu is held.
func (s *Session) infoLocked() SessionInfo {
	return SessionInfo{
		Key: s.key, Owner: s.st.Owner, Created: s.st.Created, Expires: s.expires,
		Deadline: s.st.Deadline, UserAgent: s.st.UserAgent, IP: s.st.IP,
	}
}

// Get returns the value under key as a T, converted as codec.As does, so
// that a value comes out as the type it went in as whatever the codec:
// numbers between numeric types when nothing is lost, times, byte slices,
// and slices and maps of those.
func Get[T any](s *Session, key string) (T, bool) {
	return codec.As[T](s.Get(key))
}
