package httpsession

import (
	"context"
	"time"
)

// SetConflictSleep replaces the wait between the attempts of a save that
// met a conflict, so that a test can run the protocol without sleeping.
func SetConflictSleep(m *Manager, sleep func(ctx context.Context, d time.Duration) error) {
	m.sleep = sleep
}
