// Package metrics holds the counters of a Manager's work: Manager.Stats
// returns them as Stats, and package metrics/prometheus exports them.
package metrics

import "sync/atomic"

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

// Counters are the live counters a Manager adds to as it works, one for
// each field of Stats. They are safe for concurrent use.
type Counters struct {
	Loads, Saves, Conflicts, Touches, StoreErrors atomic.Uint64
	Created, Renewed, Destroyed, Expired          atomic.Uint64
}

// Stats returns the counters' values. Each is read atomically, but not all
// at one instant.
func (c *Counters) Stats() Stats {
	return Stats{
		Loads: c.Loads.Load(), Saves: c.Saves.Load(), Conflicts: c.Conflicts.Load(),
		Touches: c.Touches.Load(), StoreErrors: c.StoreErrors.Load(),
		Created: c.Created.Load(), Renewed: c.Renewed.Load(),
		Destroyed: c.Destroyed.Load(), Expired: c.Expired.Load(),
	}
}
