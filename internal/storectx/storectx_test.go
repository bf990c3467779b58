package storectx

import (
	"context"
	"errors"
	"testing"
	"time"
)

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// A Context answers as context.WithTimeout would, whether or not
// Done was asked before the deadline, the parent's end or Stop.
func TestStoreContext(t *testing.T) {
	t.Run("live", func(t *testing.T) {
		var c Context
		ctx := c.Start(context.Background(), time.Hour)
		if d, ok := ctx.Deadline(); !ok || time.Until(d) < 59*time.Minute {
			t.Fatalf("Deadline = %v, %v; want about an hour from now", d, ok)
		}
		if err := ctx.Err(); err != nil || closed(ctx.Done()) {
			t.Fatalf("a live context: Err %v, Done closed %v", err, closed(ctx.Done()))
		}
		c.Stop()
		if err := ctx.Err(); !errors.Is(err, context.Canceled) || !closed(ctx.Done()) {
			t.Fatalf("after stop: Err %v, Done closed %v; want Canceled, closed", err, closed(ctx.Done()))
		}
	})
	t.Run("stopped before Done", func(t *testing.T) {
		var c Context
		ctx := c.Start(context.Background(), time.Hour)
		c.Stop()
		if err := ctx.Err(); !errors.Is(err, context.Canceled) || !closed(ctx.Done()) {
			t.Fatalf("after stop: Err %v, Done closed %v; want Canceled, closed", err, closed(ctx.Done()))
		}
	})
	t.Run("deadline passed, Err first", func(t *testing.T) {
		var c Context
		ctx := c.Start(context.Background(), -time.Second)
		defer c.Stop()
		if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err = %v, want DeadlineExceeded", err)
		}
		if !closed(ctx.Done()) {
			t.Fatal("Done is open after Err reported the deadline")
		}
		if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Cause = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("deadline reached while waiting", func(t *testing.T) {
		var c Context
		ctx := c.Start(context.Background(), time.Millisecond)
		defer c.Stop()
		select {
		case <-ctx.Done():
		case <-time.After(time.Minute):
			t.Fatal("Done not closed a minute after a millisecond's deadline")
		}
		if err := ctx.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Err = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("parent", func(t *testing.T) {
		parent, cancel := context.WithTimeout(context.Background(), time.Minute)
		var c Context
		ctx := c.Start(parent, time.Hour)
		defer c.Stop()
		if d, _ := ctx.Deadline(); d.After(time.Now().Add(2 * time.Minute)) {
			t.Fatalf("Deadline %v is the store timeout's, not the parent's earlier one", d)
		}
		child, cancelChild := context.WithCancel(ctx)
		defer cancelChild()
		cancel()
		if err := ctx.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Err = %v after the parent was canceled", err)
		}
		select {
		case <-child.Done():
		case <-time.After(time.Minute):
			t.Fatal("a child context did not end with the parent")
		}
	})
	t.Run("AfterFunc", func(t *testing.T) {
		var c Context
		ctx := c.Start(context.Background(), time.Hour)
		ran := make(chan struct{})
		context.AfterFunc(ctx, func() { close(ran) })
		if closed(ran) {
			t.Fatal("AfterFunc ran before the context ended")
		}
		c.Stop()
		select {
		case <-ran:
		case <-time.After(time.Minute):
			t.Fatal("AfterFunc did not run after stop")
		}
	})
}
