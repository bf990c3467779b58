package metrics_test

import (
	"testing"

	"github.com/httpsession/httpsession/metrics"
)

// Every counter lands in its own field of Stats.
func TestCountersStats(t *testing.T) {
	var c metrics.Counters
	for i, n := range []interface{ Add(uint64) uint64 }{
		&c.Loads, &c.Saves, &c.Conflicts, &c.Touches, &c.StoreErrors,
		&c.Created, &c.Renewed, &c.Destroyed, &c.Expired,
	} {
		n.Add(uint64(i + 1))
	}
	want := metrics.Stats{Loads: 1, Saves: 2, Conflicts: 3, Touches: 4, StoreErrors: 5, Created: 6, Renewed: 7, Destroyed: 8, Expired: 9}
	if got := c.Stats(); got != want {
		t.Fatalf("Stats() = %+v, want %+v", got, want)
	}
}
