package httpsession

import "context"

type contextKey struct{}

// managerKey finds one Manager's session among several on one request.
type managerKey struct{ m *Manager }

// sessionContext carries a session for SessionFrom and Manager.From. The
// middleware keeps it in the allocation of the response wrapper.
type sessionContext struct {
	context.Context
	s *Session
}

func (c *sessionContext) Value(key any) any {
	if key == (contextKey{}) || key == (managerKey{c.s.m}) {
		return c.s
	}
	return c.Context.Value(key)
}

// SessionFrom returns the session of the request whose context ctx is, or
// nil if the request did not pass through a Manager's Handler. With several
// Managers on one request it returns the innermost one's session; use
// Manager.From for the others.
func SessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(contextKey{}).(*Session)
	return s
}

// From returns the session m loaded for the request whose context ctx is,
// or nil if the request did not pass through m's Handler. It tells apart
// the sessions of several Managers on one request (an admin area with its
// own cookie, a long-lived preferences session beside the login).
func (m *Manager) From(ctx context.Context) *Session {
	s, _ := ctx.Value(managerKey{m}).(*Session)
	return s
}

// NewContext returns a copy of ctx that carries s, for code that loaded a
// session with Manager.Load and calls functions that use SessionFrom or
// Manager.From.
func NewContext(ctx context.Context, s *Session) context.Context {
	if s == nil {
		return context.WithValue(ctx, contextKey{}, s)
	}
	return &sessionContext{ctx, s}
}
