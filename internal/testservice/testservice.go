// Package testservice starts private, throwaway servers for tests: Redis (single
// node or cluster), memcached, PostgreSQL and MariaDB.
//
// Every server listens on a free 127.0.0.1 port, keeps its data and its log in
// a fresh directory of its own, and is stopped (and the directory removed) by a
// t.Cleanup when the test ends. Servers run in their own process group and are
// killed by the kernel if the test binary dies, so none outlives the test run;
// tests in different packages running at the same time never share one.
//
// Environment variables point tests at an existing server instead:
//
//	HTTPSESSION_TEST_REDIS          host:port of a Redis server
//	HTTPSESSION_TEST_REDIS_CLUSTER  comma-separated host:port of Redis Cluster nodes
//	HTTPSESSION_TEST_MEMCACHE       comma-separated host:port of memcached servers
//	HTTPSESSION_TEST_POSTGRES       a PostgreSQL URL (postgres://...)
//	HTTPSESSION_TEST_MYSQL          a go-sql-driver/mysql DSN
//
// Such a server is shared: tests must use keys and table names of their own.
// Stop, Kill and Restart skip the calling test for an external server.
//
// When a server binary is missing the test is skipped with a message naming
// the Debian package to install; with HTTPSESSION_REQUIRE_SERVICES=1 it fails
// instead (CI sets this).
//
// The functions call t.Fatal, t.Skip and t.Cleanup, so they must be called
// from the goroutine running the test.
package testservice

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables read by this package.
const (
	EnvRedis           = "HTTPSESSION_TEST_REDIS"
	EnvRedisCluster    = "HTTPSESSION_TEST_REDIS_CLUSTER"
	EnvMemcache        = "HTTPSESSION_TEST_MEMCACHE"
	EnvPostgres        = "HTTPSESSION_TEST_POSTGRES"
	EnvMySQL           = "HTTPSESSION_TEST_MYSQL"
	EnvRequireServices = "HTTPSESSION_REQUIRE_SERVICES"
)

const (
	readyTimeout        = 2 * time.Minute  // for initdb and a server to answer after its start (initdb took over 30 s on a loaded 2-core machine)
	stopTimeout         = 15 * time.Second // for a server to exit before it is killed
	pingTimeout         = 2 * time.Second
	logTailBytes        = 4096
	externalSkipMessage = "testservice: %s at %s is an external server (from $%s): cannot %s it"
)

// Server is one running server. Its methods must be called from the
// goroutine running the test that started it.
type Server struct {
	t        testing.TB
	kind     string   // "redis", "memcached", "postgres", "mariadb"
	addrs    []string // "127.0.0.1:port" for a private server
	dsn      string
	dir      string
	logPath  string
	external string // the environment variable naming it, "" for a private server

	port        int
	clusterNode bool // needs port+10000 free for the cluster bus
	stopSig     syscall.Signal
	command     func(port int) *exec.Cmd
	// ping checks that the server on addr answers at the protocol level and,
	// when pid is not 0, that it is the process pid (and not some other
	// server that grabbed the port).
	ping func(addr string, pid int) error

	mu   sync.Mutex
	proc *process
}

// Addr returns the server's "host:port" (the first one for a list of
// external memcached servers).
func (s *Server) Addr() string {
	if len(s.addrs) == 0 {
		return ""
	}
	return s.addrs[0]
}

// Addrs returns every "host:port" of the server: one for a private server,
// all of them for a list given in HTTPSESSION_TEST_MEMCACHE.
func (s *Server) Addrs() []string { return append([]string(nil), s.addrs...) }

// DSN returns how a client names the server: a postgres:// URL for
// PostgreSQL, a go-sql-driver/mysql DSN for MariaDB (database "test",
// parseTime=true), redis://host:port for Redis and memcache://host:port[,...]
// for memcached.
func (s *Server) DSN() string { return s.dsn }

// Dir returns the directory holding the server's data and log ("" for an
// external server).
func (s *Server) Dir() string { return s.dir }

// LogFile returns the path of the server's log file ("" for an external
// server).
func (s *Server) LogFile() string { return s.logPath }

// External reports whether the server was named by an environment variable
// rather than started by this package.
func (s *Server) External() bool { return s.external != "" }

// Stop shuts the server down gracefully and waits for it to exit (it is
// killed if it takes longer than 15 s). memcached, which has nothing to
// save and is slow to notice SIGTERM, is simply killed. A stopped server can
// be started again with Restart.
func (s *Server) Stop() {
	s.t.Helper()
	s.skipExternal("stop")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		s.t.Fatalf("testservice: stop %s: %v", s.kind, err)
	}
}

// Kill kills the server with SIGKILL (its process group and its children
// too), as a crash would, and waits until all of them have exited.
func (s *Server) Kill() {
	s.t.Helper()
	s.skipExternal("kill")
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.proc; p != nil {
		s.proc = nil
		if err := p.kill(); err != nil {
			s.t.Fatalf("testservice: kill %s: %v", s.kind, err)
		}
	}
}

// Restart starts the server again on the same port with the same data
// directory and waits until it answers. A running server is stopped
// gracefully first.
func (s *Server) Restart() {
	s.t.Helper()
	s.skipExternal("restart")
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.stopLocked(); err != nil {
		s.t.Fatalf("testservice: stop %s: %v", s.kind, err)
	}
	if err := s.startLocked(); err != nil {
		s.t.Fatalf("testservice: restart %s: %v", s.kind, err)
	}
}

func (s *Server) skipExternal(what string) {
	s.t.Helper()
	if s.external != "" {
		s.t.Skipf(externalSkipMessage, s.kind, strings.Join(s.addrs, ","), s.external, what)
	}
}

func (s *Server) stopLocked() error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	return p.stop(s.stopSig)
}

// boot starts a private server on a fresh free port, and registers the
// cleanup that stops it. A start that fails because another process took
// the port in the meantime is tried once more on another port.
func (s *Server) boot(setPort func(port int)) {
	s.t.Helper()
	s.t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.stopLocked(); err != nil {
			s.t.Errorf("testservice: stop %s: %v", s.kind, err)
		}
	})
	for attempt := 0; ; attempt++ {
		port := freePort(s.t, s.clusterNode)
		if testPort != nil {
			port = testPort(attempt, port)
		}
		s.port = port
		s.addrs = []string{fmt.Sprintf("127.0.0.1:%d", port)}
		if setPort != nil {
			setPort(port)
		}
		s.mu.Lock()
		err := s.startLocked()
		s.mu.Unlock()
		if err == nil {
			return
		}
		if attempt == 0 && errors.Is(err, errAddrInUse) {
			continue
		}
		s.t.Fatalf("testservice: start %s: %v", s.kind, err)
	}
}

var errAddrInUse = errors.New("address already in use")

// testPort, when set by this package's tests, replaces the port that boot
// picked for the given attempt.
var testPort func(attempt, port int) int

// startLocked starts the process and waits until it answers a ping.
func (s *Server) startLocked() error {
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close() // the child has its own copy
	offset, _ := logf.Seek(0, 2)
	cmd := s.command(s.port)
	cmd.Stdout = logf
	cmd.Stderr = logf
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setPdeathsig(cmd.SysProcAttr)
	p, err := spawn(cmd)
	if err != nil {
		return err
	}
	// The ping may outlive a failed start and run while boot tries another
	// port: it must not read s.
	addr, ping := s.Addr(), s.ping
	if err := waitReady(p, func() error { return ping(addr, p.pid) }); err != nil {
		_ = p.kill()
		tail := logTail(s.logPath, offset)
		if strings.Contains(strings.ToLower(tail), "address already in use") {
			err = fmt.Errorf("%w: %v", errAddrInUse, err)
		}
		return fmt.Errorf("%s on %s: %w\n--- %s (last lines) ---\n%s", cmd.Path, addr, err, s.logPath, tail)
	}
	s.proc = p
	return nil
}

// waitReady calls ping until it succeeds, the process exits or readyTimeout
// passes.
func waitReady(p *process, ping func() error) error {
	deadline := time.Now().Add(readyTimeout)
	delay := 5 * time.Millisecond
	for {
		// A server that failed to bind may leave a ping hanging on whatever
		// else listens on the port: stop waiting when the server exits.
		res := make(chan error, 1)
		go func() { res <- ping() }()
		var err error
		select {
		case <-p.done:
			return fmt.Errorf("exited before it was ready: %v", p.err)
		case err = <-res:
		}
		if err == nil {
			// A server that lost the race for its port may still be about to
			// exit while another answered; the pid check in ping covers most
			// servers, this one covers the rest.
			select {
			case <-p.done:
				return fmt.Errorf("exited before it was ready: %v", p.err)
			default:
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %v", readyTimeout, err)
		}
		select {
		case <-p.done:
		case <-time.After(delay):
		}
		delay = min(delay*2, 100*time.Millisecond)
	}
}

// process is a started server process.
type process struct {
	pid  int
	done chan struct{} // closed when the process has exited and was reaped
	err  error         // the result of Wait, set before done is closed
}

// spawn starts cmd. The process is started and waited for by a goroutine
// locked to its OS thread: Linux sends the parent-death signal when the
// thread that forked the child exits, so that thread must live as long as
// the child does.
func spawn(cmd *exec.Cmd) (*process, error) {
	p := &process{done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		p.pid = cmd.Process.Pid
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// stop sends sig to the process, waits up to stopTimeout for it to exit,
// then kills its group.
func (p *process) stop(sig syscall.Signal) error {
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(p.pid, sig)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
		}
	}
	// Kill what is left: the server itself after a timeout, or a child it
	// left behind in its group.
	return p.kill()
}

// kill kills the process, every process of its group and every descendant
// (PostgreSQL's children put themselves in groups of their own), then waits
// until all of them have exited, so that a restarted server finds no old
// process holding its port, lock files or shared memory.
func (p *process) kill() error {
	var tree []int
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(p.pid, syscall.SIGSTOP) // no more forks while we look
		tree = descendants(p.pid)
	}
	_ = syscall.Kill(-p.pid, syscall.SIGKILL)
	for _, pid := range tree {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.After(stopTimeout)
	select {
	case <-p.done:
	case <-deadline:
		return fmt.Errorf("process %d did not exit after SIGKILL", p.pid)
	}
	for {
		left := false
		for _, pr := range procs() {
			if pr.pgrp == p.pid || slices.Contains(tree, pr.pid) {
				left = true
				break
			}
		}
		if !left {
			return nil
		}
		select {
		case <-deadline:
			return fmt.Errorf("processes of server %d still running after SIGKILL", p.pid)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// proc is a live (not zombie) process, as /proc shows it.
type proc struct{ pid, ppid, pgrp int }

// procs lists the live processes. Zombies are left out: they hold nothing,
// and orphaned ones may never be reaped in a container whose init does not.
func procs() []proc {
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces and ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pgrp, _ := strconv.Atoi(f[2])
		out = append(out, proc{pid, ppid, pgrp})
	}
	return out
}

// descendants returns the pids of the children of pid, their children, and
// so on.
func descendants(pid int) []int {
	all := procs()
	var out []int
	for next := []int{pid}; len(next) > 0; {
		parent := next[0]
		next = next[1:]
		for _, pr := range all {
			if pr.ppid == parent {
				out = append(out, pr.pid)
				next = append(next, pr.pid)
			}
		}
	}
	return out
}

// freePort returns a port on 127.0.0.1 that was free a moment ago. With
// clusterBus it also makes sure that port+10000 (Redis Cluster's bus port)
// is free.
func freePort(t testing.TB, clusterBus bool) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testservice: no free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !clusterBus {
			l.Close()
			return port
		}
		if port+10000 <= 65535 {
			if l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000)); err == nil {
				l2.Close()
				l.Close()
				return port
			}
		}
		l.Close()
	}
	t.Fatalf("testservice: found no free port pair for a Redis Cluster node")
	return 0
}

// newDir makes a fresh directory for one server and registers its removal.
// It is not t.TempDir: that name can be too long for a Unix socket path and
// its parent is private to root, which the postgres user cannot enter.
func newDir(t testing.TB, kind string) string {
	t.Helper()
	dir, err := os.MkdirTemp(tempRoot(), "httpsession-"+kind+"-")
	if err != nil {
		t.Fatalf("testservice: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("testservice: remove %s: %v", dir, err)
		}
	})
	return dir
}

// tempRoot returns os.TempDir() if every user can enter it, else /tmp.
func tempRoot() string {
	root := os.TempDir()
	for d := root; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == filepath.Dir(d) {
			return root
		}
	}
}

// logTail returns the last lines of the log written after offset.
func logTail(path string, offset int64) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	if offset > 0 && offset <= int64(len(b)) {
		b = b[offset:]
	}
	if len(b) > logTailBytes {
		b = b[len(b)-logTailBytes:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return "(log is empty)"
	}
	return string(b)
}

// findBinary returns the path of the program name, looked up in PATH and
// then in dirs. If it is missing the test is skipped, or fails when
// HTTPSESSION_REQUIRE_SERVICES=1, with a message naming the Debian package
// pkg that provides it.
func findBinary(t testing.TB, name, pkg string, dirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	missing(t, fmt.Sprintf("testservice: %s not found: install the Debian package %s", name, pkg))
	return ""
}

// missing skips the test with msg, or fails it when
// HTTPSESSION_REQUIRE_SERVICES=1.
func missing(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(EnvRequireServices) == "1" {
		t.Fatalf("%s ($%s=1)", msg, EnvRequireServices)
	}
	t.Skipf("%s (set %s=1 to fail instead of skipping)", msg, EnvRequireServices)
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// external returns a Server for the addresses in environment variable env,
// or nil if it is not set. When ping is not nil each address must answer it.
func external(t testing.TB, kind, env string, addrs []string, dsn string, ping func(addr string, pid int) error) *Server {
	t.Helper()
	if ping != nil {
		for _, a := range addrs {
			if err := ping(a, 0); err != nil {
				t.Fatalf("testservice: %s at %s (from $%s) does not answer: %v", kind, a, env, err)
			}
		}
	}
	return &Server{t: t, kind: kind, addrs: addrs, dsn: dsn, external: env}
}

// dial connects to addr with a deadline for the whole exchange.
func dial(network, addr string) (net.Conn, *bufio.Reader, error) {
	c, err := net.DialTimeout(network, addr, pingTimeout)
	if err != nil {
		return nil, nil, err
	}
	_ = c.SetDeadline(time.Now().Add(pingTimeout))
	return c, bufio.NewReader(c), nil
}
