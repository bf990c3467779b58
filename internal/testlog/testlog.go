// Package testlog gives tests loggers that write through t.Log, so that the
// log lines a test provokes on purpose (a store outage logged at ERROR, a
// retry at WARN, go-redis failing to dial a server the test killed) show
// only with go test -v or when that test fails, next to its failure.
//
// For the Manager and stores that take a *slog.Logger:
//
//	httpsession.Config{Logger: testlog.New(t)}
//
// For go-redis, whose logger is global to the test binary, once per
// package (in TestMain or an init function of a _test.go file):
//
//	redis.SetLogger(testlog.Redis)
//
// and testlog.Attach(t) in the tests whose go-redis lines should show; New
// attaches too. go-redis's lines go to every attached test that is still
// running, and are dropped when none is.
package testlog

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// New returns a logger whose lines, at every level from Debug up, go to
// t.Log. Lines logged after t has ended (by a goroutine that outlives it)
// are dropped, since t.Log would panic then. New attaches t (see Attach).
func New(t testing.TB) *slog.Logger {
	w := Attach(t)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Writer writes each line it is given to t.Log, until t ends.
type Writer struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

// Write passes p to t.Log without its trailing newline.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *Writer) end() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
	attached.Lock()
	delete(attached.tests, w)
	attached.Unlock()
}

// attached holds the running tests that receive go-redis's lines.
var attached = struct {
	sync.Mutex
	tests map[*Writer]struct{}
}{tests: map[*Writer]struct{}{}}

// Attach makes t receive the lines logged through Redis until t ends, and
// returns the writer that passes them to t.Log.
func Attach(t testing.TB) *Writer {
	w := &Writer{t: t}
	attached.Lock()
	attached.tests[w] = struct{}{}
	attached.Unlock()
	t.Cleanup(w.end)
	return w
}

// Redis is a go-redis logger (it has the Printf method redis.SetLogger
// wants) that passes each line to the attached tests.
var Redis redisLogger

type redisLogger struct{}

// Printf logs one go-redis line.
func (redisLogger) Printf(_ context.Context, format string, v ...any) {
	line := "go-redis: " + fmt.Sprintf(format, v...) + "\n"
	attached.Lock()
	ws := make([]*Writer, 0, len(attached.tests))
	for w := range attached.tests {
		ws = append(ws, w)
	}
	attached.Unlock()
	for _, w := range ws {
		w.Write([]byte(line))
	}
}
