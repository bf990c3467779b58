package bench

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/gorilla/sessions"
)

// gorillaHashKey signs gorilla's cookies (and its file contents): the
// library requires a key, and uses HMAC-SHA256 with it.
var gorillaHashKey = []byte("bench-gorilla-hash-key-of-32-byt")

// gorillaLib is gorilla/sessions v1 on one of its stores. Handlers call
// Save themselves, as gorilla requires; the read-only ones do not.
type gorillaLib struct {
	store sessions.Store
}

// gorillaCountedLib is gorillaLib on a server-side store, counted. The
// cookie store has no server side to count.
type gorillaCountedLib struct {
	*gorillaLib
	count *gorillaCountingStore
}

// openGorilla returns gorillaLib on store for workload w, or skips: gorilla
// has no idle timeout (its MaxAge is an absolute lifetime that only a Save
// moves), so W6 is not applicable.
func openGorilla(b *testing.B, store sessions.Store, counted bool, w workload) lib {
	b.Helper()
	if w.idleTimeout > 0 {
		b.Skip("n/a: gorilla/sessions has no idle timeout")
	}
	if !counted {
		return &gorillaLib{store: store}
	}
	cs := &gorillaCountingStore{Store: store}
	return gorillaCountedLib{gorillaLib: &gorillaLib{store: cs}, count: cs}
}

func (l gorillaCountedLib) counts() storeCounts {
	return storeCounts{reads: l.count.reads.Load(), writes: l.count.writes.Load()}
}

func (l *gorillaLib) handler(st step) http.Handler {
	var fn func(s *sessions.Session) (save bool)
	switch st {
	case stepNew:
		fn = func(s *sessions.Session) bool { s.Values["greeting"] = greeting; return true }
	case stepSeedUser:
		fn = func(s *sessions.Session) bool { s.Values["user"] = "ann"; return true }
	case stepRead:
		fn = func(s *sessions.Session) bool {
			if v, _ := s.Values["user"].(string); v != "ann" {
				fail("gorilla: user is %q, not ann", v)
			}
			return false
		}
	case stepIncr:
		fn = func(s *sessions.Session) bool {
			n, _ := s.Values["n"].(int)
			s.Values["n"] = n + 1
			return true
		}
	case stepSeedFat:
		fn = func(s *sessions.Session) bool {
			for i := range fatKeys {
				s.Values[fatKey(i)] = fatValues[0]
			}
			return true
		}
	case stepFat:
		fn = func(s *sessions.Session) bool {
			for k, v := range s.Values {
				_, _ = k, v
			}
			if len(s.Values) != fatKeys {
				fail("gorilla: the fat session has %d keys", len(s.Values))
			}
			s.Values["key07"] = nextFatValue()
			return true
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := l.store.Get(r, cookieName)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if st == stepReadN {
			n, _ := s.Values["n"].(int)
			w.Write(strconv.AppendInt(nil, int64(n), 10))
			return
		}
		if fn(s) {
			if err := s.Save(r, w); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
			}
		}
	})
}

// gorillaCountingStore counts a server-side gorilla store's work: New with
// a session cookie loads the session (a read), Save writes it.
type gorillaCountingStore struct {
	sessions.Store
	reads, writes atomic.Int64
}

// Get goes through the registry with the wrapper as the store, so that New
// and Save are counted.
func (s *gorillaCountingStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

func (s *gorillaCountingStore) New(r *http.Request, name string) (*sessions.Session, error) {
	if _, err := r.Cookie(name); err == nil {
		s.reads.Add(1)
	}
	return s.Store.New(r, name)
}

func (s *gorillaCountingStore) Save(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	s.writes.Add(1)
	return s.Store.Save(r, w, session)
}
