package httpsession

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
)

// Handler returns middleware that gives every request a session: it loads
// the session before next runs and saves it just before the response
// starts, so a new or renewed token rides on the response. Changes made
// after the response started are saved when next returns. A handler that
// panics or answers 5xx saves nothing. Use it as r.Use(m.Handler) with chi.
func (m *Manager) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.vary != "" {
			w.Header().Add("Vary", m.vary)
		}
		sw := &responseWriter{ResponseWriter: w, m: m, r: r}
		s := &sw.s
		if token := m.transport.ReadToken(r); m.wellFormed(token) {
			ctx, cancel := context.WithTimeout(r.Context(), m.cfg.StoreTimeout)
			err := m.load(ctx, token, s)
			cancel()
			if err != nil {
				m.fail(w, r, err)
				return
			}
		} else {
			m.startNew(s, m.now())
		}
		if m.cfg.RecordClient {
			ua, ip := m.clientOf(r)
			if !s.isNew && m.boundElsewhere(s, ua, ip) {
				m.unbind(r.Context(), s)
			}
			if s.isNew {
				s.st.UserAgent, s.st.IP = ua, ip
			}
		}
		r = r.WithContext(NewContext(r.Context(), s))
		sw.r = r

		panicked := true
		defer func() {
			if panicked {
				return // the panic goes on up; nothing is saved
			}
			if !sw.started {
				sw.commit(http.StatusOK)
			} else if !sw.failed && sw.status < 500 {
				sw.saveLate()
			}
		}()
		next.ServeHTTP(sw, r)
		panicked = false
	})
}

func (m *Manager) fail(w http.ResponseWriter, r *http.Request, err error) {
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
	}
	return "store failure"
}

// clientOf returns the User-Agent (cut to a sane length) and the client
// IP of r.
func (m *Manager) clientOf(r *http.Request) (ua, ip string) {
	ua = r.UserAgent()
	if len(ua) > 256 {
		ua = ua[:256]
	}
	return ua, m.cfg.ClientIP(r)
}

func remoteIP(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// boundElsewhere reports whether s was created by another client than the
// one that sends this request, by the bindings configured.
func (m *Manager) boundElsewhere(s *Session, ua, ip string) bool {
	return m.cfg.BindIP && s.st.IP != ip || m.cfg.BindUserAgent && s.st.UserAgent != ua
}

// unbind ends a session presented by the wrong client and makes s a new
// one. The stored session is deleted: a stolen token is worth nothing
// afterwards, to the thief or to its owner.
func (m *Manager) unbind(ctx context.Context, s *Session) {
	m.cfg.Logger.Warn("httpsession: session presented by another client; destroyed", "session", logID(s.token))
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StoreTimeout)
	defer cancel()
	if err := m.destroy(ctx, s.infoLocked()); err != nil {
		m.cfg.Logger.Warn("httpsession: deleting a session bound to another client", "session", logID(s.token), "err", err)
	}
	m.startNew(s, m.now())
	s.clear = true
}

// responseWriter saves the session before the first byte of the response.
type responseWriter struct {
	http.ResponseWriter
	m       *Manager
	r       *http.Request
	s       Session // one allocation for both
	started bool    // the session was committed and the response started
	failed  bool    // the save failed; the error handler answered instead
	status  int
}

// commit saves the session and sets the token headers, once, before the
// status line goes out. A failed save turns the response into the error
// handler's.
func (w *responseWriter) commit(status int) {
	w.started, w.status = true, status
	if status >= 500 || w.m.idle(&w.s) {
		return
	}
	ctx, cancel := context.WithTimeout(w.r.Context(), w.m.cfg.StoreTimeout)
	defer cancel()
	act, err := w.m.save(ctx, &w.s, true)
	if err != nil {
		w.failed = true
		w.m.fail(w.ResponseWriter, w.r, err)
		return
	}
	switch act {
	case sendToken:
		w.noStore()
		w.s.mu.Lock()
		token, deadline := w.s.token, w.s.st.Deadline
		w.s.mu.Unlock()
		w.m.transport.WriteToken(w.ResponseWriter, w.r, token, deadline)
	case clearToken:
		w.noStore()
		w.m.transport.ClearToken(w.ResponseWriter, w.r)
	}
}

// noStore keeps shared caches from storing a response that carries a token.
func (w *responseWriter) noStore() {
	w.Header().Set("Cache-Control", "no-store")
}

// saveLate saves changes made after the response started.
func (w *responseWriter) saveLate() {
	if w.m.idle(&w.s) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(w.r.Context()), w.m.cfg.StoreTimeout)
	defer cancel()
	if _, err := w.m.save(ctx, &w.s, false); err != nil {
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
