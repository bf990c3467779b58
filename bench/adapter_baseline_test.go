package bench

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// baseline is the floor: plain net/http doing each workload's work on a
// map keyed by the cookie, with no session library. A new visitor gets a
// 32-byte token from crypto/rand and a cookie, as from the libraries; there
// is no encoding, no store interface and no expiry beyond W6's last-seen
// time. It shows what the harness itself costs (recorder, cookie parsing).
var baseline = adapter{
	name: "baseline",
	open: func(b *testing.B, w workload) lib {
		return &baselineLib{sessions: map[string]map[string]any{}, idle: w.idleTimeout > 0}
	},
}

// baselineMaxEntries bounds the map as memstore bounds itself, so that W1
// does not grow it without end.
const baselineMaxEntries = 100_000

type baselineLib struct {
	mu       sync.RWMutex
	sessions map[string]map[string]any
	idle     bool // keep a last-seen time per session (W6)
}

func (l *baselineLib) handler(st step) http.Handler {
	var fn func(w http.ResponseWriter, s map[string]any)
	write := true // the step changes the session: take the write lock
	switch st {
	case stepNew, stepSeedUser, stepSeedFat, stepIncr:
		fn = func(w http.ResponseWriter, s map[string]any) {
			switch st {
			case stepNew:
				s["greeting"] = greeting
			case stepSeedUser:
				s["user"] = "ann"
			case stepSeedFat:
				for i := range fatKeys {
					s[fatKey(i)] = fatValues[0]
				}
			case stepIncr:
				n, _ := s["n"].(int)
				s["n"] = n + 1
			}
		}
	case stepRead:
		write = l.idle
		fn = func(w http.ResponseWriter, s map[string]any) {
			if v, _ := s["user"].(string); v != "ann" {
				fail("baseline: user is %q, not ann", v)
			}
			if l.idle {
				s["lastSeen"] = time.Now()
			}
		}
	case stepFat:
		fn = func(w http.ResponseWriter, s map[string]any) {
			for k, v := range s {
				_, _ = k, v
			}
			s["key07"] = nextFatValue()
		}
	case stepReadN:
		write = false
		fn = func(w http.ResponseWriter, s map[string]any) {
			n, _ := s["n"].(int)
			w.Write(strconv.AppendInt(nil, int64(n), 10))
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie(cookieName); err == nil && l.serve(w, c.Value, write, fn) {
			return
		}
		if !write {
			return // nothing to create
		}
		s := map[string]any{}
		fn(w, s)
		var raw [32]byte
		rand.Read(raw[:])
		token := base64.RawURLEncoding.EncodeToString(raw[:])
		l.mu.Lock()
		if len(l.sessions) >= baselineMaxEntries {
			clear(l.sessions)
		}
		l.sessions[token] = s
		l.mu.Unlock()
		http.SetCookie(w, &http.Cookie{
			Name: cookieName, Value: token, Path: "/", HttpOnly: true,
			SameSite: http.SameSiteLaxMode, Expires: time.Now().Add(24 * time.Hour),
		})
	})
}

// serve runs fn on the session of token under the lock write asks for, and
// reports whether there was one.
func (l *baselineLib) serve(w http.ResponseWriter, token string, write bool, fn func(http.ResponseWriter, map[string]any)) bool {
	if write {
		l.mu.Lock()
		defer l.mu.Unlock()
	} else {
		l.mu.RLock()
		defer l.mu.RUnlock()
	}
	s, ok := l.sessions[token]
	if ok {
		fn(w, s)
	}
	return ok
}
