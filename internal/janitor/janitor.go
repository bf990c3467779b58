// Package janitor deletes expired session records in the background, for
// stores without native expiry. httpsession.New starts one when the store
// implements httpsession.Cleaner; Manager.Close stops it.
package janitor

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Batch bounds the records one pass deletes per store call.
const Batch = 1000

// passTimeout bounds one pass over a backlog.
const passTimeout = time.Minute

// A Janitor calls a store's DeleteExpired once per interval until Stop.
type Janitor struct {
	deleteExpired func(ctx context.Context, limit int) (int, error)
	unsupported   error
	log           *slog.Logger
	stop          chan struct{}
	stopOnce      sync.Once
	done          chan struct{}
}

// Start starts a janitor that calls deleteExpired (a store's
// Cleaner.DeleteExpired) every interval. An error wrapping unsupported
// (a wrapper over a store that expires its own records) ends the janitor;
// other errors go to log and the next interval tries again.
func Start(deleteExpired func(ctx context.Context, limit int) (int, error), interval time.Duration, unsupported error, log *slog.Logger) *Janitor {
	j := &Janitor{deleteExpired: deleteExpired, unsupported: unsupported, log: log,
		stop: make(chan struct{}), done: make(chan struct{})}
	go j.run(interval)
	return j
}

// Stop stops the janitor, cancelling a pass under way, and waits until it
// has ended. It may be called more than once.
func (j *Janitor) Stop() {
	j.stopOnce.Do(func() { close(j.stop) })
	<-j.done
}

func (j *Janitor) run(interval time.Duration) {
	defer close(j.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-tick.C:
			if !j.clean() {
				return
			}
		}
	}
}

// clean deletes expired records in batches until none are left, the pass
// has taken a minute, or Stop is called. It reports false when the store
// cannot delete expired records, and the janitor ends.
func (j *Janitor) clean() bool {
	ctx, cancel := context.WithTimeout(context.Background(), passTimeout)
	defer cancel()
	go func() {
		select {
		case <-j.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	for ctx.Err() == nil {
		n, err := j.deleteExpired(ctx, Batch)
		if errors.Is(err, j.unsupported) {
			return false
		}
		if err != nil {
			if ctx.Err() == nil {
				j.log.Warn("httpsession: deleting expired sessions", "err", err)
			}
			return true
		}
		if n < Batch {
			return true
		}
	}
	return true
}
