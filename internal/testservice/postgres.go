package testservice

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// initdbTimeout bounds initdb.
const initdbTimeout = 3 * time.Minute

// PostgresOption configures a private PostgreSQL server.
type PostgresOption func(*postgresConfig)

type postgresConfig struct {
	maxConnections int
}

// MaxConnections sets the server's max_connections (100 by default, as in
// PostgreSQL's own configuration; 3 of them are kept for superusers).
func MaxConnections(n int) PostgresOption {
	return func(c *postgresConfig) { c.maxConnections = n }
}

// Postgres starts a private PostgreSQL server on 127.0.0.1 and returns it; it
// is stopped when the test ends. DSN gives
// "postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable": superuser
// postgres, trust authentication, the default database.
//
// The data directory is made by initdb (a second or less). Nothing is
// fsynced (fsync=off, full_page_writes=off): a Kill loses no committed data,
// only an operating system crash could. When the test
// runs as root, initdb and postgres run as the user postgres (initdb refuses
// root), which Debian's postgresql package creates.
//
// If HTTPSESSION_TEST_POSTGRES is set, the server named by that URL is
// returned instead, and opts are ignored.
func Postgres(t testing.TB, opts ...PostgresOption) *Server {
	t.Helper()
	c := postgresConfig{maxConnections: 100}
	for _, o := range opts {
		o(&c)
	}
	if dsn := os.Getenv(EnvPostgres); dsn != "" {
		var addrs []string
		if u, err := url.Parse(dsn); err == nil && u.Host != "" {
			addrs = []string{u.Host}
		}
		return external(t, "postgres", EnvPostgres, addrs, dsn, nil)
	}
	initdb := findBinary(t, "initdb", "postgresql", postgresBinDirs()...)
	if p, err := filepath.EvalSymlinks(initdb); err == nil {
		initdb = p // a link in PATH: take postgres from the real directory
	}
	postgres := filepath.Join(filepath.Dir(initdb), "postgres")
	if _, err := os.Stat(postgres); err != nil {
		postgres = findBinary(t, "postgres", "postgresql")
	}

	dir, cred := postgresUserDir(t, "PostgreSQL", "postgres")
	data := filepath.Join(dir, "data")

	// initdb takes a second on an idle machine, and over 30 s on a
	// loaded one.
	ctx, cancel := context.WithTimeout(context.Background(), initdbTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, initdb,
		"-D", data, "-U", "postgres", "--auth=trust",
		"--no-locale", "-E", "UTF8", "--no-sync", "--no-instructions")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testservice: initdb: %v\n%s", err, out)
	}

	s := &Server{
		t:       t,
		kind:    "postgres",
		dir:     dir,
		logPath: filepath.Join(dir, "postgres.log"),
		stopSig: syscall.SIGINT, // fast shutdown; SIGTERM would wait for clients to leave
	}
	s.command = func(port int) *exec.Cmd {
		cmd := exec.Command(postgres,
			"-D", data,
			"-p", strconv.Itoa(port),
			"-c", "listen_addresses=127.0.0.1",
			"-c", "unix_socket_directories="+dir,
			"-c", "fsync=off",
			"-c", "full_page_writes=off",
			"-c", "shared_buffers=16MB",
			"-c", "huge_pages=off",
			"-c", "max_connections="+strconv.Itoa(c.maxConnections),
		)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}
	// Ask through the Unix socket in our own directory first, so that no
	// other server that took the port in the meantime can answer for ours.
	s.ping = func(addr string, _ int) error {
		_, port, _ := net.SplitHostPort(addr)
		sock := filepath.Join(dir, ".s.PGSQL."+port)
		if err := pingPostgres("unix", sock); err != nil {
			return err
		}
		return pingPostgres("tcp", addr)
	}
	s.boot(func(port int) {
		s.dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	})
	return s
}

// postgresBinDirs returns Debian's /usr/lib/postgresql/VERSION/bin
// directories, newest version first.
func postgresBinDirs() []string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(d string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int {
		va, vb := version(a), version(b)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	return dirs
}

// pingPostgres logs in as postgres to database postgres and waits for
// ReadyForQuery, which a server still starting up or in recovery refuses.
func pingPostgres(network, addr string) error {
	c, r, err := dial(network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	params := "user\x00postgres\x00database\x00postgres\x00\x00"
	msg := binary.BigEndian.AppendUint32(nil, uint32(8+len(params)))
	msg = binary.BigEndian.AppendUint32(msg, 196608) // protocol 3.0
	msg = append(msg, params...)
	if _, err := c.Write(msg); err != nil {
		return err
	}
	for {
		typ, body, err := readPostgresMessage(r)
		if err != nil {
			return err
		}
		switch typ {
		case 'R':
			if len(body) < 4 || binary.BigEndian.Uint32(body) != 0 {
				return errors.New("postgres asks for a password")
			}
		case 'E':
			return fmt.Errorf("postgres: %s", postgresError(body))
		case 'Z':
			_, _ = c.Write([]byte{'X', 0, 0, 0, 4})
			return nil
		}
	}
}

func readPostgresMessage(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 || n > 1<<20 {
		return 0, nil, fmt.Errorf("bad postgres message length %d", n)
	}
	body := make([]byte, n-4)
	_, err := io.ReadFull(r, body)
	return hdr[0], body, err
}

// postgresError returns the message field of an ErrorResponse.
func postgresError(body []byte) string {
	for f := range strings.SplitSeq(string(body), "\x00") {
		if m, ok := strings.CutPrefix(f, "M"); ok {
			return m
		}
	}
	return "unknown error"
}

// postgresUserDir returns a new directory for a server that refuses to run
// as root (PostgreSQL, PgBouncer), and the credential of Debian's postgres
// user to run it with, who owns the directory. A process that is not root
// gets its own directory and a nil credential.
func postgresUserDir(t testing.TB, server, name string) (string, *syscall.Credential) {
	t.Helper()
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			missing(t, "testservice: "+server+" cannot run as root and there is no user postgres: install the Debian package postgresql, which creates it")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	dir := newDir(t, name)
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("testservice: %v", err)
		}
	}
	return dir, cred
}
