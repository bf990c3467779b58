package httpsession

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/httpsession/httpsession/codec"
	"github.com/httpsession/httpsession/metrics"
)

// Stats returns the Manager's counters of its work since it was created.
func (m *Manager) Stats() metrics.Stats { return m.stats.Stats() }

// Hooks are called on session lifecycle events, for audit logs. They run
// synchronously on the request's goroutine after the store write, so keep
// them quick. The SessionInfo carries no values.
type Hooks struct {
	OnCreate  func(ctx context.Context, info SessionInfo)
	OnRenew   func(ctx context.Context, info SessionInfo)
	OnDestroy func(ctx context.Context, info SessionInfo)
	OnExpire  func(ctx context.Context, info SessionInfo)
}

func (m *Manager) hook(ctx context.Context, fn func(context.Context, SessionInfo), info SessionInfo) {
	if fn != nil {
		info.Values = nil
		fn(ctx, info)
	}
}

// SessionInfo describes one stored session, for hooks, operators and
// "your devices" pages (package sessions lists and ends them). Key is the
// store key, a hash of the token: showing it grants nothing.
type SessionInfo struct {
	Key      string    `json:"key"`
	Owner    string    `json:"owner,omitempty"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
	Deadline time.Time `json:"deadline"`
	// UserAgent and IP are those of the request that created the session,
	// recorded when Config.Client.Record is on.
	UserAgent string         `json:"user_agent,omitempty"`
	IP        string         `json:"ip,omitempty"`
	Size      int            `json:"size"`
	Values    map[string]any `json:"values,omitempty"`
}

// Store returns the store of the Manager's Config, for code that works on
// stored sessions outside a request, such as package sessions.
func (m *Manager) Store() Store { return m.cfg.Store }

// Describe decodes rec, the record stored under key, with the Manager's
// codec and clock. A record past its deadline, or one that only marks a
// token renewed a moment ago, gives an error wrapping ErrNotFound; a
// record the codec cannot read gives the codec's error.
func (m *Manager) Describe(key string, rec Record) (SessionInfo, error) {
	var st codec.State
	if err := m.decode(rec, &st, m.now(), false); errors.Is(err, errExpired) || errors.Is(err, errRenewed) {
		return SessionInfo{}, fmt.Errorf("httpsession: describing a session: %w", ErrNotFound)
	} else if err != nil {
		return SessionInfo{}, fmt.Errorf("httpsession: describing a session: %w", err)
	}
	seen := st.Saved
	// With an idle timeout, every touch put the expiry IdleTimeout after
	// the request that made it.
	if m.cfg.IdleTimeout > 0 && rec.Expires.Before(st.Deadline) {
		if t := rec.Expires.Add(-m.cfg.IdleTimeout); t.After(seen) {
			seen = t
		}
	}
	return SessionInfo{
		Key: key, Owner: st.Owner, Created: st.Created, LastSeen: seen,
		Expires: rec.Expires, Deadline: st.Deadline,
		UserAgent: st.UserAgent, IP: st.IP, Size: len(rec.Data), Values: st.Values,
	}, nil
}

// Destroy deletes the session stored under info.Key, as Session.Destroy
// does from outside a request: it counts in Stats.Destroyed and
// Hooks.OnDestroy gets info.
func (m *Manager) Destroy(ctx context.Context, info SessionInfo) error {
	if err := m.cfg.Store.Delete(ctx, info.Key); err != nil {
		m.stats.StoreErrors.Add(1)
		return fmt.Errorf("httpsession: deleting a session: %w", err)
	}
	m.stats.Destroyed.Add(1)
	m.hook(ctx, m.cfg.Hooks.OnDestroy, info)
	return nil
}
