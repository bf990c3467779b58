package testservice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
)

// MariaDB starts a private MariaDB server on 127.0.0.1 and returns it; it is
// stopped when the test ends. DSN gives the go-sql-driver/mysql form
// "root@tcp(127.0.0.1:PORT)/test?parseTime=true": user root without a
// password, database test (made at every start if missing).
//
// The server is small and quick rather than durable: a 16 MB buffer pool,
// no binary log, and the InnoDB log flushed once a second (a Kill loses
// nothing; only an operating system crash could).
//
// If HTTPSESSION_TEST_MYSQL is set, the server named by that DSN is returned
// instead.
func MariaDB(t testing.TB) *Server {
	t.Helper()
	if dsn := os.Getenv(EnvMySQL); dsn != "" {
		var addrs []string
		if m := mysqlAddr.FindStringSubmatch(dsn); m != nil {
			addrs = []string{m[1]}
		}
		return external(t, "mariadb", EnvMySQL, addrs, dsn, nil)
	}
	installDB := findBinary(t, "mariadb-install-db", "mariadb-server")
	mariadbd := findBinary(t, "mariadbd", "mariadb-server", "/usr/sbin")

	dir := newDir(t, "mariadb")
	data := filepath.Join(dir, "data")
	sock := filepath.Join(dir, "mysqld.sock")
	initFile := filepath.Join(dir, "init.sql")
	if err := os.WriteFile(initFile, []byte("CREATE DATABASE IF NOT EXISTS test;\n"), 0o644); err != nil {
		t.Fatalf("testservice: %v", err)
	}
	innodb := []string{
		"--innodb-buffer-pool-size=16M",
		"--innodb-log-file-size=8M",
		"--innodb-use-native-aio=0", // many servers at once would exhaust aio-max-nr
		"--innodb-temp-data-file-path=ibtmp1:1M:autoextend",
	}
	var asUser []string
	if os.Geteuid() == 0 {
		asUser = []string{"--user=root"}
	}

	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	args := append([]string{"--no-defaults"}, asUser...)
	args = append(args, "--datadir="+data, "--auth-root-authentication-method=normal", "--skip-test-db")
	args = append(args, innodb...)
	cmd := exec.CommandContext(ctx, installDB, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("testservice: mariadb-install-db: %v\n%s", err, out)
	}

	s := &Server{
		t:       t,
		kind:    "mariadb",
		dir:     dir,
		logPath: filepath.Join(dir, "mariadb.log"),
		stopSig: syscall.SIGTERM,
	}
	s.command = func(port int) *exec.Cmd {
		args := append([]string{"--no-defaults"}, asUser...)
		args = append(args,
			"--datadir="+data,
			"--port="+strconv.Itoa(port),
			"--bind-address=127.0.0.1",
			"--socket="+sock,
			"--pid-file="+filepath.Join(dir, "mysqld.pid"),
			"--tmpdir="+dir,
			"--init-file="+initFile,
			"--skip-name-resolve",
			"--skip-log-bin",
			"--character-set-server=utf8mb4",
			"--collation-server=utf8mb4_unicode_ci",
			"--innodb-flush-log-at-trx-commit=2",
			"--innodb-doublewrite=0",
		)
		args = append(args, innodb...)
		cmd := exec.Command(mariadbd, args...)
		cmd.Dir = dir
		return cmd
	}
	// Ask through the Unix socket in our own directory first, so that no
	// other server that took the port in the meantime can answer for ours.
	s.ping = func(addr string, _ int) error {
		if err := pingMySQL("unix", sock); err != nil {
			return err
		}
		return pingMySQL("tcp", addr)
	}
	s.boot(func(port int) {
		s.dsn = fmt.Sprintf("root@tcp(127.0.0.1:%d)/test?parseTime=true", port)
	})
	return s
}

var mysqlAddr = regexp.MustCompile(`tcp\(([^)]+)\)`)

// pingMySQL reads the server's greeting: the handshake packet (protocol
// version 10), or an error packet.
func pingMySQL(network, addr string) error {
	c, r, err := dial(network, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n == 0 {
		return errors.New("empty greeting")
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return err
	}
	switch payload[0] {
	case 10:
		return nil
	case 0xff:
		msg := payload[1:]
		if len(msg) > 2 {
			msg = msg[2:] // error code
		}
		return fmt.Errorf("mariadb: %s", msg)
	}
	return fmt.Errorf("unexpected greeting (protocol %d)", payload[0])
}
