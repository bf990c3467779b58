// Package sessions works on the sessions a Manager has stored, outside any
// request: it lists them (all, or those of one owner), inspects one and
// ends them (one, or all of an owner: "sign out everywhere"). It is what a
// "your devices" page, an operator's tool or a password change needs; the
// request path, in package httpsession, never uses it.
//
// Sessions are named by their store key (httpsession.StoreKey of the
// token), which grants nothing when shown. Owners are what
// Session.SetOwner recorded. Listing needs a store that implements
// httpsession.Lister, or httpsession.OwnerIndex for one owner's sessions.
package sessions

import (
	"context"
	"errors"
	"fmt"

	"github.com/httpsession/httpsession"
)

// Inspect returns the session stored under key, values included, or an
// error wrapping httpsession.ErrNotFound.
func Inspect(ctx context.Context, m *httpsession.Manager, key string) (httpsession.SessionInfo, error) {
	rec, err := m.Store().Get(ctx, key)
	if err == nil {
		var info httpsession.SessionInfo
		if info, err = m.Describe(key, rec); err == nil {
			return info, nil
		}
	}
	return httpsession.SessionInfo{}, fmt.Errorf("sessions: inspecting a session: %w", err)
}

// Destroy deletes the session stored under key. It reports
// httpsession.ErrNotFound for a key with no live record, and counts and
// hooks the deletion like Session.Destroy. A record the codec cannot
// decode is deleted too.
func Destroy(ctx context.Context, m *httpsession.Manager, key string) error {
	rec, err := m.Store().Get(ctx, key)
	if err != nil {
		return fmt.Errorf("sessions: deleting a session: %w", err)
	}
	return m.Destroy(ctx, describe(m, key, rec))
}

// describe describes a record, or only by its key and owner when it does
// not decode or has expired by the Manager's clock.
func describe(m *httpsession.Manager, key string, rec httpsession.Record) httpsession.SessionInfo {
	info, err := m.Describe(key, rec)
	if err != nil {
		return httpsession.SessionInfo{Key: key, Owner: rec.Owner, Expires: rec.Expires, Size: len(rec.Data)}
	}
	return info
}

// Iterate calls fn for every live session until fn returns false, without
// changing any session's expiry. Records that fail to decode are skipped.
// It needs a store that can list; others give an error wrapping
// httpsession.ErrNotSupported.
func Iterate(ctx context.Context, m *httpsession.Manager, fn func(httpsession.SessionInfo) bool) error {
	l, ok := m.Store().(httpsession.Lister)
	if !ok {
		return fmt.Errorf("sessions: iterating sessions: %w", httpsession.ErrNotSupported)
	}
	err := l.List(ctx, func(key string, rec httpsession.Record) bool {
		info, err := m.Describe(key, rec)
		return err != nil || fn(info)
	})
	if err != nil {
		return fmt.Errorf("sessions: iterating sessions: %w", err)
	}
	return nil
}

// Of returns the live sessions of owner (see Session.SetOwner). It uses
// the store's owner index, or a full scan on a store that can list but has
// no index. A record the codec cannot decode is listed with its key and
// owner only.
func Of(ctx context.Context, m *httpsession.Manager, owner string) ([]httpsession.SessionInfo, error) {
	if owner == "" {
		return nil, nil
	}
	var out []httpsession.SessionInfo
	var keys []string
	err := httpsession.ErrNotSupported
	if idx, ok := m.Store().(httpsession.OwnerIndex); ok {
		keys, err = idx.OwnerKeys(ctx, owner)
	}
	if !errors.Is(err, httpsession.ErrNotSupported) {
		if err != nil {
			return nil, fmt.Errorf("sessions: sessions of an owner: %w", err)
		}
		for _, key := range keys {
			rec, err := m.Store().Get(ctx, key)
			if errors.Is(err, httpsession.ErrNotFound) {
				continue // ended since the index was read
			}
			if err != nil {
				return nil, fmt.Errorf("sessions: sessions of an owner: %w", err)
			}
			// A record the codec cannot read still belongs to its
			// owner, so that DestroyOwner ends it.
			if info := describe(m, key, rec); info.Owner == owner {
				out = append(out, info)
			}
		}
		return out, nil
	}
	err = Iterate(ctx, m, func(info httpsession.SessionInfo) bool {
		if info.Owner == owner {
			out = append(out, info)
		}
		return true
	})
	return out, err
}

// DestroyOwner ends every session of owner ("sign out everywhere") except
// keep, which may be nil; pass httpsession.SessionFrom(r.Context()) to
// keep the session of the request. It returns how many sessions it
// deleted.
func DestroyOwner(ctx context.Context, m *httpsession.Manager, owner string, keep *httpsession.Session) (int, error) {
	list, err := Of(ctx, m, owner)
	if err != nil {
		return 0, err
	}
	var keepKey string
	if keep != nil && keep.Token() != "" {
		keepKey = httpsession.StoreKey(keep.Token())
	}
	n := 0
	for _, info := range list {
		if info.Key == keepKey {
			continue
		}
		if err := m.Destroy(ctx, info); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
