package httpsession

import "context"

type contextKey struct{}

// SessionFrom returns the session of the request whose context ctx is, or
// nil if the request did not pass through a Manager's Handler.
func SessionFrom(ctx context.Context) *Session {
	s, _ := ctx.Value(contextKey{}).(*Session)
	return s
}

// NewContext returns a copy of ctx that carries s, for code that loaded a
// session with Manager.Load and calls functions that use SessionFrom.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, contextKey{}, s)
}
