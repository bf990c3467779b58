package httpsession

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/httpsession/httpsession/codec"
)

// SessionInfo describes one stored session for operators and "your
// devices" pages. Key is the store key, a hash of the token: showing it
// grants nothing.
type SessionInfo struct {
	Key      string    `json:"key"`
	Owner    string    `json:"owner,omitempty"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Expires  time.Time `json:"expires"`
	Deadline time.Time `json:"deadline"`
	// UserAgent and IP are those of the request that created the session,
	// recorded when Config.RecordClient is on.
	UserAgent string         `json:"user_agent,omitempty"`
	IP        string         `json:"ip,omitempty"`
	Size      int            `json:"size"`
	Values    map[string]any `json:"values,omitempty"`
}

// info decodes a record into a SessionInfo. It reports errExpired for a
// record that is past its deadline by the Manager's clock.
func (m *Manager) info(key string, rec Record) (SessionInfo, error) {
	var st codec.State
	if err := m.decode(rec, &st, m.now()); err != nil {
		return SessionInfo{}, err
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

// Inspect returns the session stored under key (a store key, see
// StoreKey), or an error wrapping ErrNotFound.
func (m *Manager) Inspect(ctx context.Context, key string) (SessionInfo, error) {
	rec, err := m.cfg.Store.Get(ctx, key)
	if err != nil {
		return SessionInfo{}, fmt.Errorf("httpsession: inspecting a session: %w", err)
	}
	info, err := m.info(key, rec)
	if errors.Is(err, errExpired) {
		return SessionInfo{}, fmt.Errorf("httpsession: inspecting a session: %w", ErrNotFound)
	}
	return info, err
}

// DestroyKey deletes the session stored under key, for operators. It
// reports ErrNotFound for a key with no live record, and counts and hooks
// the deletion like Session.Destroy. A record the codec cannot decode is
// deleted too.
func (m *Manager) DestroyKey(ctx context.Context, key string) error {
	rec, err := m.cfg.Store.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("httpsession: deleting a session: %w", err)
	}
	return m.destroy(ctx, m.infoOrBare(key, rec))
}

// infoOrBare describes a record, or only by its key and owner when it does
// not decode or has expired by the Manager's clock.
func (m *Manager) infoOrBare(key string, rec Record) SessionInfo {
	info, err := m.info(key, rec)
	if err != nil {
		return SessionInfo{Key: key, Owner: rec.Owner, Expires: rec.Expires, Size: len(rec.Data)}
	}
	return info
}

func (m *Manager) destroy(ctx context.Context, info SessionInfo) error {
	if err := m.cfg.Store.Delete(ctx, info.Key); err != nil {
		m.stats.storeErrors.Add(1)
		return fmt.Errorf("httpsession: deleting a session: %w", err)
	}
	m.stats.destroyed.Add(1)
	m.hook(ctx, m.cfg.Hooks.OnDestroy, info)
	return nil
}

// Iterate calls fn for every live session until fn returns false, without
// changing any session's expiry. Records that fail to decode are skipped.
// It needs a store that can list; others give an error wrapping
// ErrNotSupported.
func (m *Manager) Iterate(ctx context.Context, fn func(SessionInfo) bool) error {
	l, ok := m.cfg.Store.(Lister)
	if !ok {
		return fmt.Errorf("httpsession: iterating sessions: %w", ErrNotSupported)
	}
	err := l.List(ctx, func(key string, rec Record) bool {
		info, err := m.info(key, rec)
		if err != nil {
			return true
		}
		return fn(info)
	})
	if err != nil {
		return fmt.Errorf("httpsession: iterating sessions: %w", err)
	}
	return nil
}

// SessionsOf returns the live sessions of owner (see Session.SetOwner). It
// uses the store's owner index, or a full scan on a store that can list
// but has no index. A record the codec cannot decode is listed with its key
// and owner only.
func (m *Manager) SessionsOf(ctx context.Context, owner string) ([]SessionInfo, error) {
	if owner == "" {
		return nil, nil
	}
	var out []SessionInfo
	var keys []string
	err := ErrNotSupported
	if idx, ok := m.cfg.Store.(OwnerIndex); ok {
		keys, err = idx.OwnerKeys(ctx, owner)
	}
	if !errors.Is(err, ErrNotSupported) {
		if err != nil {
			return nil, fmt.Errorf("httpsession: sessions of an owner: %w", err)
		}
		for _, key := range keys {
			rec, err := m.cfg.Store.Get(ctx, key)
			if errors.Is(err, ErrNotFound) {
				continue // ended since the index was read
			}
			if err != nil {
				return nil, fmt.Errorf("httpsession: sessions of an owner: %w", err)
			}
			// A record the codec cannot read still belongs to its
			// owner, so that DestroyOwner ends it.
			if info := m.infoOrBare(key, rec); info.Owner == owner {
				out = append(out, info)
			}
		}
		return out, nil
	}
	err = m.Iterate(ctx, func(info SessionInfo) bool {
		if info.Owner == owner {
			out = append(out, info)
		}
		return true
	})
	return out, err
}

// DestroyOwner ends every session of owner ("sign out everywhere") except
// keep, which may be nil; pass SessionFrom(r.Context()) to keep the
// session of the request. It returns how many sessions it deleted.
func (m *Manager) DestroyOwner(ctx context.Context, owner string, keep *Session) (int, error) {
	sessions, err := m.SessionsOf(ctx, owner)
	if err != nil {
		return 0, err
	}
	var keepKey string
	if keep != nil {
		keep.mu.Lock()
		keepKey = keep.key
		keep.mu.Unlock()
	}
	n := 0
	for _, info := range sessions {
		if info.Key == keepKey {
			continue
		}
		if err := m.destroy(ctx, info); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
