// Package storectx is the context of a Manager's store calls: what
// context.WithTimeout makes, except that its timer is made only when a
// store asks for Done.
package storectx

import (
	"context"
	"sync"
	"time"
)

// Context is the context of the store calls of one load or one save:
// its parent with Config.StoreTimeout's deadline, as context.WithTimeout
// would make it, except that the timer behind Done is made only when
// something asks for Done. A store in the process (memstore) only asks
// Err, which compares the clock with the deadline, so its requests make
// no timer and allocate no context; a store that waits on the network
// asks Done and gets the same timer as before. The middleware keeps the
// two of a request inside its one allocation.
//
// A Context is used once: Start, the store calls, Stop. Its zero value is
// ready for Start.
type Context struct {
	context.Context // the parent
	deadline        time.Time

	mu     sync.Mutex
	state  storeCtxState
	timed  context.Context // WithDeadline(parent, deadline), once Done was asked
	cancel context.CancelFunc
}

type storeCtxState uint8

const (
	ctxIdle    storeCtxState = iota // no timer yet
	ctxTimed                        // timed holds the timer
	ctxStopped                      // stopped before anything asked for Done
)

// closedChan is the Done of a Context stopped before Done was asked.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Start makes c its parent with a deadline d from now (or the parent's,
// if earlier) and returns it.
func (c *Context) Start(parent context.Context, d time.Duration) context.Context {
	c.Context, c.deadline = parent, time.Now().Add(d)
	if pd, ok := parent.Deadline(); ok && pd.Before(c.deadline) {
		c.deadline = pd
	}
	return c
}

// Stop ends c, as the cancel function of context.WithTimeout does.
func (c *Context) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case ctxIdle:
		c.state = ctxStopped
	case ctxTimed:
		c.cancel()
	}
}

// Deadline returns the deadline of the store calls.
func (c *Context) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns a channel closed at the deadline, when the parent is done,
// or after Stop; its first call makes the timer.
func (c *Context) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case ctxIdle:
		c.timed, c.cancel = context.WithDeadline(c.Context, c.deadline)
		c.state = ctxTimed
	case ctxStopped:
		return closedChan
	}
	return c.timed.Done()
}

// Err reports context.DeadlineExceeded once the deadline has passed,
// the parent's error once it is done, and context.Canceled after Stop.
func (c *Context) Err() error {
	c.mu.Lock()
	state, timed := c.state, c.timed
	c.mu.Unlock()
	switch state {
	case ctxTimed:
		return timed.Err()
	case ctxStopped:
		return context.Canceled
	}
	if err := c.Context.Err(); err != nil {
		return err
	}
	// time.Until reads only the monotonic clock when the deadline has a
	// monotonic reading (Start's own always has): half the cost of
	// time.Now, on every store call's first check of Err.
	if time.Until(c.deadline) <= 0 {
		// Done, if asked now, is closed already: WithDeadline with a
		// deadline in the past.
		return context.DeadlineExceeded
	}
	return nil
}

// AfterFunc arranges for f to run once c is done, as context.AfterFunc
// does; context.AfterFunc and context.WithCancel on c use it rather than
// a goroutine of their own.
func (c *Context) AfterFunc(f func()) func() bool {
	c.Done()
	c.mu.Lock()
	timed := c.timed
	c.mu.Unlock()
	if timed == nil { // stopped before Done was asked
		go f()
		return func() bool { return false }
	}
	return context.AfterFunc(timed, f)
}
