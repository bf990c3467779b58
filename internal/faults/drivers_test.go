package faults

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
)

// driverLog takes the log lines of go-redis and go-sql-driver/mysql, which
// both write to stderr by default: during an outage that is a line per
// failed request. The tests count them instead.
var driverLog = &logLines{}

func init() {
	redis.SetLogger(driverLog)
	_ = mysql.SetLogger(driverLog)
}

// logLines counts log entries and keeps the latest. It takes the entries
// of go-redis (Printf), of go-sql-driver/mysql (Print) and of a log.Logger
// (Write, one call an entry).
type logLines struct {
	mu     sync.Mutex
	n      int
	latest string
}

func (l *logLines) Printf(_ context.Context, format string, v ...any) {
	l.add(fmt.Sprintf(format, v...))
}

func (l *logLines) Print(v ...any) { l.add(fmt.Sprint(v...)) }

func (l *logLines) Write(p []byte) (int, error) {
	l.add(string(p))
	return len(p), nil
}

func (l *logLines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n++
	l.latest = strings.TrimSpace(line)
}

func (l *logLines) lines() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

func (l *logLines) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.latest
}
