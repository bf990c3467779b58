package testlog

import (
	"context"
	"strings"
	"testing"
)

// fakeTB records Log calls and runs cleanups when told to.
type fakeTB struct {
	testing.TB
	logs     []string
	cleanups []func()
}

func (f *fakeTB) Log(args ...any)   { f.logs = append(f.logs, args[0].(string)) }
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) end() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func TestNewLogsToTestUntilItEnds(t *testing.T) {
	f := &fakeTB{TB: t}
	log := New(f)
	log.Error("store failure", "err", "connection refused")
	log.Debug("detail")
	if len(f.logs) != 2 || !strings.Contains(f.logs[0], "level=ERROR") || !strings.Contains(f.logs[0], "connection refused") || strings.HasSuffix(f.logs[0], "\n") {
		t.Fatalf("logs = %q, want an ERROR line without its newline and a DEBUG line", f.logs)
	}
	f.end()
	log.Error("after the end")
	if len(f.logs) != 2 {
		t.Fatalf("a line logged after the test ended reached it: %q", f.logs[2:])
	}
}

func TestRedisGoesToAttachedTests(t *testing.T) {
	a, b := &fakeTB{TB: t}, &fakeTB{TB: t}
	Attach(a)
	Attach(b)
	Redis.Printf(context.Background(), "connection pool: failed to dial after %d attempts", 5)
	want := "go-redis: connection pool: failed to dial after 5 attempts"
	if len(a.logs) != 1 || a.logs[0] != want || len(b.logs) != 1 {
		t.Fatalf("a got %q, b got %q; want each %q", a.logs, b.logs, want)
	}
	a.end()
	Redis.Printf(context.Background(), "again")
	if len(a.logs) != 1 || len(b.logs) != 2 {
		t.Fatalf("after a ended: a got %q, b got %q", a.logs, b.logs)
	}
	b.end()
	Redis.Printf(context.Background(), "nobody listens") // dropped, no panic
}
