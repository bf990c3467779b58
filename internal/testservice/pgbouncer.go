package testservice

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// PgBouncer starts a private PgBouncer on 127.0.0.1 in front of the
// PostgreSQL server pg, in transaction pooling mode (pool_mode=transaction:
// a client holds a server connection only for the length of a transaction,
// so consecutive statements of one client may run on different server
// connections), and returns it; it is stopped when the test ends.
//
// Its DSN is "postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable":
// the user and database of pg's DSN, no password (auth_type=trust).
// pgx clients add default_query_exec_mode=exec or simple_protocol: a named
// prepared statement made on one server connection is unknown to the next.
// PgBouncer keeps at most 20 server connections per database and user
// (default_pool_size) and takes up to 1000 clients.
//
// PgBouncer refuses to run as root; when the test runs as root it runs as
// the user postgres, which Debian's postgresql package creates.
func PgBouncer(t testing.TB, pg *Server) *Server {
	t.Helper()
	bin := findBinary(t, "pgbouncer", "pgbouncer", "/usr/sbin")
	backend, err := url.Parse(pg.DSN())
	if err != nil || backend.Host == "" {
		t.Fatalf("testservice: PgBouncer needs a postgres:// server, got %q", pg.DSN())
	}
	host, port, err := net.SplitHostPort(backend.Host)
	if err != nil {
		t.Fatalf("testservice: PgBouncer: PostgreSQL address %q: %v", backend.Host, err)
	}
	pgUser := "postgres"
	if backend.User != nil && backend.User.Username() != "" {
		pgUser = backend.User.Username()
	}
	pgPassword, _ := backend.User.Password()

	dir, cred := postgresUserDir(t, "PgBouncer", "pgbouncer")
	// Every user name is accepted (trust) but must be listed.
	userlist := filepath.Join(dir, "userlist.txt")
	if err := os.WriteFile(userlist, fmt.Appendf(nil, "%q \"\"\n", pgUser), 0o644); err != nil {
		t.Fatalf("testservice: %v", err)
	}
	backendConn := fmt.Sprintf("host=%s port=%s user=%s", host, port, pgUser)
	if pgPassword != "" {
		backendConn += " password=" + pgPassword
	}

	s := &Server{
		t:       t,
		kind:    "pgbouncer",
		dir:     dir,
		logPath: filepath.Join(dir, "pgbouncer.log"),
		stopSig: syscall.SIGINT, // immediate shutdown
	}
	s.command = func(port int) *exec.Cmd {
		ini := filepath.Join(dir, "pgbouncer.ini")
		conf := fmt.Sprintf(`[databases]
* = %s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir = %s
auth_type = trust
auth_file = %s
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
server_login_retry = 1
`, backendConn, port, dir, userlist)
		// A failed write shows as PgBouncer's own error in the log.
		_ = os.WriteFile(ini, []byte(conf), 0o644)
		cmd := exec.Command(bin, ini)
		cmd.Dir = dir
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		return cmd
	}
	// As for PostgreSQL: the Unix socket in our own directory first, so no
	// other server on the port can answer for ours. A login goes through to
	// PostgreSQL, so a ready PgBouncer is one whose backend answers too.
	s.ping = func(addr string, _ int) error {
		_, port, _ := net.SplitHostPort(addr)
		if err := pingPostgres("unix", filepath.Join(dir, ".s.PGSQL."+port)); err != nil {
			return err
		}
		return pingPostgres("tcp", addr)
	}
	s.boot(func(port int) {
		dsn := url.URL{Scheme: "postgres", User: url.User(pgUser), Host: fmt.Sprintf("127.0.0.1:%d", port), Path: backend.Path, RawQuery: "sslmode=disable"}
		if dsn.Path == "" {
			dsn.Path = "/postgres"
		}
		s.dsn = dsn.String()
	})
	return s
}
