package httpsession

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/httpsession/httpsession/codec"
)

// Session is one client's session. Handlers get it with SessionFrom. Its
// methods are safe for concurrent use by the goroutines of one request.
//
// Changes are kept in memory and saved by the Manager before the response
// starts. Values read with Get are not copied: changing a map or slice
// obtained from Get is not saved unless it is stored again with Set.
type Session struct {
	mu sync.Mutex
	m  *Manager

	token   string // current token; "" until the session needs one
	key     string // store key of the loaded record; "" when not stored
	version uint64 // version of the loaded record; 0 when not stored
	expires time.Time
	st      codec.State
	isNew   bool

	ops      []op         // this request's changes, replayed after a conflict
	opsBuf   [2]op        // room for the usual one or two changes
	changed  bool         // something to write
	oldKey   string       // record to delete at save (Renew, Destroy)
	clear    bool         // the client's token must be cleared (Destroy)
	newToken bool         // token differs from the one the client holds
	err      error        // a failed token generation, reported at save
	renewed  bool         // Renew replaced a stored record
	ended    *SessionInfo // the stored session Destroy ended, for the hook
}

type opKind uint8

const (
	opSet opKind = iota
	opIncr
	opDelete
	opClear
	opUpdate
	opExpire
	opOwner
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
		if st.Values == nil {
			st.Values = make(map[string]any)
		}
		st.Values[o.key] = o.val
	case opDelete:
		delete(st.Values, o.key)
		delete(st.KeyExpiry, o.key)
	case opClear:
		st.Values = nil
		st.KeyExpiry = nil
	case opIncr:
		n, _ := toInt64(st.Values[o.key])
		if st.Values == nil {
			st.Values = make(map[string]any)
		}
		st.Values[o.key] = n + o.delta
	case opUpdate:
		old, ok := st.Values[o.key]
		if !ok {
			old = nil
		}
		if v := o.fn(old); v != nil {
			if st.Values == nil {
				st.Values = make(map[string]any)
			}
			st.Values[o.key] = v
		} else {
			delete(st.Values, o.key)
			delete(st.KeyExpiry, o.key)
		}
	case opExpire:
		if _, ok := st.Values[o.key]; !ok {
			return
		}
		if st.KeyExpiry == nil {
			st.KeyExpiry = make(map[string]time.Time)
		}
		st.KeyExpiry[o.key] = o.at
	case opOwner:
		st.Owner = o.key
	}
}

// log applies a change and records it for replay; it returns the key's
// value afterwards. A new session gets its token here, so Token can hand it
// out before the save. Token generation fails only with a custom
// Config.NewToken; the save then reports the error.
func (s *Session) log(o op) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensureToken()
	o.apply(&s.st)
	s.ops = append(s.ops, o)
	s.changed = true
	return s.st.Values[o.key]
}

func (s *Session) ensureToken() {
	if s.token != "" {
		return
	}
	t, err := s.m.token()
	if err != nil {
		s.err = err
		return
	}
	s.token, s.newToken = t, true
}

// Get returns the value stored under key, or nil.
func (s *Session) Get(key string) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Values[key]
}

// Has reports whether key has a value.
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.st.Values[key]
	return ok
}

// Keys returns the keys of the session in sorted order.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.st.Values))
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
	v, ok := s.st.Values[key]
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
	n, _ := toInt64(s.log(op{kind: opIncr, key: key, delta: delta}))
	return n
}

// SetKeyExpiry makes key expire d from now, on its own, while the session
// lives on. The expiry stays with the key until the key is deleted or
// expires. It does nothing if key has no value.
func (s *Session) SetKeyExpiry(key string, d time.Duration) {
	s.log(op{kind: opExpire, key: key, at: s.m.now().Add(d)})
}

// SetOwner records the principal (a user id) the session belongs to, so
// that Manager.SessionsOf and Manager.DestroyOwner find it. Call it at
// login, together with Renew. An empty owner removes it.
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

// Renew gives the session a new token and keeps its data; the old token
// stops working when the session is saved. Call it at login and at every
// change of privilege, so that a token planted before login is worthless
// (session fixation). Renew also restarts the absolute lifetime.
func (s *Session) Renew() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != 0 {
		s.oldKey, s.renewed = s.key, true
	}
	s.key, s.version, s.token = "", 0, ""
	now := s.m.now()
	s.st.Created, s.st.Deadline = now, now.Add(s.m.cfg.Lifetime)
	s.ops = s.ops[:0] // the new record is an insert; there is nothing to replay
	s.changed = true
	s.ensureToken()
}

// Destroy deletes the session from the store and clears the client's token.
// Changes made after Destroy go to a brand-new session with a new token.
func (s *Session) Destroy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.version != 0 {
		s.oldKey = s.key
		info := s.infoLocked()
		s.ended = &info
	} else if s.oldKey != "" && s.ended == nil {
		info := s.infoLocked() // renewed earlier in this request
		info.Key = s.oldKey
		s.ended = &info
	}
	s.clear = s.clear || s.version != 0 || !s.isNew
	now := s.m.now()
	ua, ip := s.st.UserAgent, s.st.IP
	s.st = codec.State{Created: now, Deadline: now.Add(s.m.cfg.Lifetime), UserAgent: ua, IP: ip}
	s.key, s.version, s.token, s.newToken = "", 0, "", false
	s.ops, s.changed = s.ops[:0], false
	s.isNew = true
}

// infoLocked describes the session for hooks; s.mu is held.
func (s *Session) infoLocked() SessionInfo {
	return SessionInfo{
		Key: s.key, Owner: s.st.Owner, Created: s.st.Created, Expires: s.expires,
		Deadline: s.st.Deadline, UserAgent: s.st.UserAgent, IP: s.st.IP,
	}
}

// Get returns the value under key as a T. Besides an exact type match it
// converts between numeric types when no precision is lost, and parses RFC
// 3339 strings as times, so values read back from the JSON and CBOR codecs
// come out as the type they went in as.
func Get[T any](s *Session, key string) (T, bool) {
	v := s.Get(key)
	if t, ok := v.(T); ok {
		return t, true
	}
	var zero T
	if v == nil {
		return zero, false
	}
	return convert[T](v)
}
