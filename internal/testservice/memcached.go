package testservice

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// MemcachedOption changes how Memcached starts a server.
type MemcachedOption func(*memcachedConfig)

type memcachedConfig struct {
	memoryMB int
	itemSize string
	args     []string
}

// MemoryMB sets the memory memcached may use for items, in megabytes
// (memcached -m; default 64).
func MemoryMB(mb int) MemcachedOption {
	return func(c *memcachedConfig) { c.memoryMB = mb }
}

// ItemSizeMax sets the largest item memcached stores (memcached -I), e.g.
// "1m" (the default), "512k" or "2m". It must not exceed half the memory.
func ItemSizeMax(size string) MemcachedOption {
	return func(c *memcachedConfig) { c.itemSize = size }
}

// MemcachedArgs adds command-line flags to memcached.
func MemcachedArgs(args ...string) MemcachedOption {
	return func(c *memcachedConfig) { c.args = append(c.args, args...) }
}

// Memcached starts a private memcached on 127.0.0.1 (TCP only) and returns
// it; it is stopped when the test ends. If HTTPSESSION_TEST_MEMCACHE is set,
// the servers listed there are returned instead (Addrs gives them all) and
// the options are ignored.
func Memcached(t testing.TB, opts ...MemcachedOption) *Server {
	t.Helper()
	if env := os.Getenv(EnvMemcache); env != "" {
		addrs := splitList(env)
		return external(t, "memcached", EnvMemcache, addrs, "memcache://"+strings.Join(addrs, ","), pingMemcached)
	}
	c := memcachedConfig{memoryMB: 64}
	for _, o := range opts {
		o(&c)
	}
	bin := findBinary(t, "memcached", "memcached")
	dir := newDir(t, "memcached")
	s := &Server{
		t:       t,
		kind:    "memcached",
		dir:     dir,
		logPath: filepath.Join(dir, "memcached.log"),
		// memcached has nothing to save, and notices SIGTERM only at its
		// next clock tick (up to a second), so stopping it means killing it.
		stopSig: syscall.SIGKILL,
		ping:    pingMemcached,
	}
	s.command = func(port int) *exec.Cmd {
		args := []string{
			"-l", "127.0.0.1",
			"-p", strconv.Itoa(port),
			"-U", "0",
			"-m", strconv.Itoa(c.memoryMB),
		}
		if c.itemSize != "" {
			args = append(args, "-I", c.itemSize)
		}
		if os.Geteuid() == 0 {
			args = append(args, "-u", "root") // memcached refuses root without -u
		}
		args = append(args, c.args...)
		return exec.Command(bin, args...)
	}
	s.boot(func(port int) { s.dsn = fmt.Sprintf("memcache://127.0.0.1:%d", port) })
	return s
}

// pingMemcached sends "version" and "stats" and, when pid is not 0, checks
// that the server is process pid.
func pingMemcached(addr string, pid int) error {
	c, r, err := dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "version\r\nstats\r\n"); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "VERSION ") {
		return fmt.Errorf("version answered %q", strings.TrimSpace(line))
	}
	gotPID := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimSpace(line)
		if line == "END" {
			break
		}
		if v, ok := strings.CutPrefix(line, "STAT pid "); ok {
			gotPID = v
		}
	}
	if pid != 0 && gotPID != strconv.Itoa(pid) {
		return fmt.Errorf("%s is served by process %s, not by %d", addr, gotPID, pid)
	}
	return nil
}
