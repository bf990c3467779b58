package httpsession

import (
	"context"
	"sync/atomic"
)

// Stats are counters of a Manager's work since it was created.
type Stats struct {
	Loads       uint64 `json:"loads"`        // sessions read from the store
	Saves       uint64 `json:"saves"`        // sessions written
	Conflicts   uint64 `json:"conflicts"`    // writes retried after a version conflict
	Touches     uint64 `json:"touches"`      // idle expiries slid without a rewrite
	StoreErrors uint64 `json:"store_errors"` // failed store calls
	Created     uint64 `json:"created"`      // new sessions saved
	Renewed     uint64 `json:"renewed"`      // tokens renewed
	Destroyed   uint64 `json:"destroyed"`    // sessions destroyed
	Expired     uint64 `json:"expired"`      // sessions found expired on load
}

type counters struct {
	loads, saves, conflicts, touches, storeErrors atomic.Uint64
	created, renewed, destroyed, expired          atomic.Uint64
}

// Stats returns the Manager's counters.
func (m *Manager) Stats() Stats {
	c := &m.stats
	return Stats{
		Loads: c.loads.Load(), Saves: c.saves.Load(), Conflicts: c.conflicts.Load(),
		Touches: c.touches.Load(), StoreErrors: c.storeErrors.Load(),
		Created: c.created.Load(), Renewed: c.renewed.Load(),
		Destroyed: c.destroyed.Load(), Expired: c.expired.Load(),
	}
}

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
