package testservice

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

// timed runs start and logs how long it took.
func timed[T any](t *testing.T, what string, start func() T) T {
	t.Helper()
	t0 := time.Now()
	v := start()
	t.Logf("%s started in %v", what, time.Since(t0).Round(time.Millisecond))
	return v
}

// exchange sends req to addr and returns the first line of the answer.
func exchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %q: %v", addr, req, err)
	}
	return strings.TrimRight(line, "\r\n")
}

func TestRedis(t *testing.T) {
	t.Parallel()
	s := timed(t, "redis", func() *Server { return Redis(t) })
	if got := exchange(t, s.Addr(), "PING\r\n"); got != "+PONG" {
		t.Fatalf("PING = %q", got)
	}
	if got := exchange(t, s.Addr(), "SET k v\r\n"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	if s.DSN() != "redis://"+s.Addr() {
		t.Errorf("DSN = %q", s.DSN())
	}

	s.Kill()
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("killed redis still accepts connections")
	}
	timed(t, "redis restart after kill", func() any { s.Restart(); return nil })
	if got := exchange(t, s.Addr(), "PING\r\n"); got != "+PONG" {
		t.Fatalf("PING after restart = %q", got)
	}
	if got := exchange(t, s.Addr(), "EXISTS k\r\n"); got != ":0" {
		t.Errorf("EXISTS k after kill of a server without persistence = %q, want :0", got)
	}

	s.Stop()
	s.Restart()
	if got := exchange(t, s.Addr(), "PING\r\n"); got != "+PONG" {
		t.Fatalf("PING after stop and restart = %q", got)
	}
}

func TestRedisAppendOnly(t *testing.T) {
	t.Parallel()
	s := Redis(t, AppendOnly(), RedisArgs("--maxmemory", "8mb"))
	if got := exchange(t, s.Addr(), "SET k v\r\n"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	s.Kill()
	s.Restart()
	if got := exchange(t, s.Addr(), "EXISTS k\r\n"); got != ":1" {
		t.Errorf("EXISTS k after kill of an append-only server = %q, want :1", got)
	}
	if got := exchange(t, s.Addr(), "CONFIG GET maxmemory\r\n"); got != "*2" {
		t.Errorf("CONFIG GET = %q", got)
	}
}

func TestRedisCluster(t *testing.T) {
	t.Parallel()
	c := timed(t, "redis cluster (3 masters)", func() *Cluster { return RedisCluster(t, 3) })
	if len(c.Addrs()) != 3 || len(c.Servers()) != 3 {
		t.Fatalf("Addrs = %v, %d servers", c.Addrs(), len(c.Servers()))
	}
	for _, a := range c.Addrs() {
		if got := exchange(t, a, "PING\r\n"); got != "+PONG" {
			t.Errorf("%s: PING = %q", a, got)
		}
		st, err := redisClusterState(a)
		if err != nil || st != "ok" {
			t.Errorf("%s: cluster_state = %q, %v", a, st, err)
		}
	}
	// Every key has exactly one home: a SET succeeds on one node and is
	// redirected (-MOVED) by the others.
	ok := 0
	for _, a := range c.Addrs() {
		switch got := exchange(t, a, "SET somekey v\r\n"); {
		case got == "+OK":
			ok++
		case strings.HasPrefix(got, "-MOVED "):
		default:
			t.Errorf("%s: SET = %q", a, got)
		}
	}
	if ok != 1 {
		t.Errorf("SET succeeded on %d nodes, want 1", ok)
	}

	n := c.Servers()[1]
	n.Kill()
	timed(t, "redis cluster node restart after kill", func() any { n.Restart(); return nil })
	for _, a := range c.Addrs() {
		if st, err := redisClusterState(a); err != nil || st != "ok" {
			t.Errorf("%s after a node's restart: cluster_state = %q, %v", a, st, err)
		}
	}
}

func TestMemcached(t *testing.T) {
	t.Parallel()
	s := timed(t, "memcached", func() *Server { return Memcached(t, MemoryMB(16), ItemSizeMax("2m")) })
	if got := exchange(t, s.Addr(), "version\r\n"); !strings.HasPrefix(got, "VERSION ") {
		t.Fatalf("version = %q", got)
	}
	if got := exchange(t, s.Addr(), "set k 0 0 1\r\nv\r\n"); got != "STORED" {
		t.Fatalf("set = %q", got)
	}
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "stats settings\r\nquit\r\n")
	settings, _ := io.ReadAll(c)
	c.Close()
	for _, want := range []string{"STAT item_size_max 2097152", "STAT maxbytes 16777216", "STAT udpport 0"} {
		if !strings.Contains(string(settings), want) {
			t.Errorf("stats settings lack %q:\n%s", want, settings)
		}
	}
	if s.DSN() != "memcache://"+s.Addr() {
		t.Errorf("DSN = %q", s.DSN())
	}

	s.Kill()
	timed(t, "memcached restart after kill", func() any { s.Restart(); return nil })
	if got := exchange(t, s.Addr(), "version\r\n"); !strings.HasPrefix(got, "VERSION ") {
		t.Fatalf("version after restart = %q", got)
	}
}

// query opens dsn with database/sql driver, runs q and returns the single
// integer.
func query(t *testing.T, driver, dsn, q string) int {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n int
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// execSQL opens dsn with driver and runs the statements.
func execSQL(t *testing.T, driver, dsn string, stmts ...string) {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// pgQuery connects to dsn with pgx, runs the statements and returns the
// single integer the last one selects.
func pgQuery(t *testing.T, dsn string, stmts ...string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range stmts[:len(stmts)-1] {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var n int
	q := stmts[len(stmts)-1]
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	s := timed(t, "postgres (initdb + start)", func() *Server { return Postgres(t) })
	if n := pgQuery(t, s.DSN(), "CREATE TABLE t (x int)", "INSERT INTO t VALUES (1), (2)", "SELECT 1"); n != 1 {
		t.Fatalf("SELECT 1 = %d", n)
	}

	s.Kill()
	timed(t, "postgres restart after kill", func() any { s.Restart(); return nil })
	if n := pgQuery(t, s.DSN(), "SELECT count(*) FROM t"); n != 2 {
		t.Errorf("rows after kill and restart = %d, want 2", n)
	}
	s.Stop()
	s.Restart()
	if n := pgQuery(t, s.DSN(), "SELECT 1"); n != 1 {
		t.Fatalf("SELECT 1 after stop and restart = %d", n)
	}
}

// TestPgBouncer holds more client connections open through PgBouncer than
// the server takes: transaction pooling shares the server's connections.
func TestPgBouncer(t *testing.T) {
	t.Parallel()
	pg := Postgres(t, MaxConnections(25))
	b := timed(t, "pgbouncer", func() *Server { return PgBouncer(t, pg) })
	dsn := b.DSN() + "&default_query_exec_mode=exec"
	if n := pgQuery(t, dsn, "SELECT current_setting('max_connections')::int"); n != 25 {
		t.Fatalf("max_connections through PgBouncer = %d, want 25", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conns []*pgx.Conn
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	for i := range 40 {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		conns = append(conns, c)
		var n int
		if err := c.QueryRow(ctx, "SELECT $1::int", i).Scan(&n); err != nil || n != i {
			t.Fatalf("client %d: SELECT = %d, %v", i, n, err)
		}
	}
	for i, c := range conns {
		var n int
		if err := c.QueryRow(ctx, "SELECT $1::int + 1", i).Scan(&n); err != nil || n != i+1 {
			t.Fatalf("client %d, second query: %d, %v", i, n, err)
		}
	}
}

func TestMariaDB(t *testing.T) {
	t.Parallel()
	s := timed(t, "mariadb (install-db + start)", func() *Server { return MariaDB(t) })
	if n := query(t, "mysql", s.DSN(), "SELECT 1"); n != 1 {
		t.Fatalf("SELECT 1 = %d", n)
	}
	execSQL(t, "mysql", s.DSN(), "CREATE TABLE t (x int) ENGINE=InnoDB", "INSERT INTO t VALUES (1), (2)")

	s.Kill()
	timed(t, "mariadb restart after kill", func() any { s.Restart(); return nil })
	if n := query(t, "mysql", s.DSN(), "SELECT count(*) FROM t"); n != 2 {
		t.Errorf("rows after kill and restart = %d, want 2", n)
	}
}

// TestExternal points the environment variables at private servers and at
// made-up addresses. It cannot run in parallel (t.Setenv).
func TestExternal(t *testing.T) {
	r := Redis(t)
	m := Memcached(t)

	t.Setenv(EnvRedis, r.Addr())
	t.Setenv(EnvMemcache, m.Addr()+", "+m.Addr())
	t.Setenv(EnvRedisCluster, r.Addr()+","+r.Addr())
	t.Setenv(EnvPostgres, "postgres://u:p@db.example:6543/x?sslmode=disable")
	t.Setenv(EnvMySQL, "u:p@tcp(db.example:3307)/x")

	er := Redis(t)
	if !er.External() || er.Addr() != r.Addr() || er.DSN() != "redis://"+r.Addr() {
		t.Errorf("external redis: %v %q %q", er.External(), er.Addr(), er.DSN())
	}
	em := Memcached(t)
	if got := em.Addrs(); len(got) != 2 || got[1] != m.Addr() {
		t.Errorf("external memcached Addrs = %q", got)
	}
	if got := RedisCluster(t, 3); len(got.Addrs()) != 2 || got.Servers() != nil {
		t.Errorf("external cluster: %q, %d servers", got.Addrs(), len(got.Servers()))
	}
	if p := Postgres(t); p.Addr() != "db.example:6543" || p.DSN() != os.Getenv(EnvPostgres) {
		t.Errorf("external postgres: %q %q", p.Addr(), p.DSN())
	}
	if my := MariaDB(t); my.Addr() != "db.example:3307" || my.DSN() != os.Getenv(EnvMySQL) {
		t.Errorf("external mariadb: %q %q", my.Addr(), my.DSN())
	}

	for name, f := range map[string]func(*Server){"Stop": (*Server).Stop, "Kill": (*Server).Kill, "Restart": (*Server).Restart} {
		t.Run(name, func(t *testing.T) {
			f(Redis(t))
			t.Errorf("%s of an external server did not skip", name)
		})
	}
	if got := exchange(t, r.Addr(), "PING\r\n"); got != "+PONG" {
		t.Errorf("the server behind the external one was disturbed: PING = %q", got)
	}
}

// TestPortTaken makes the first start find its port taken: the server is
// started again on another port.
func TestPortTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().(*net.TCPAddr).Port
	testPort = func(attempt, port int) int {
		if attempt == 0 {
			return taken
		}
		return port
	}
	defer func() { testPort = nil }()
	for name, start := range map[string]func(testing.TB) *Server{
		"redis":     func(t testing.TB) *Server { return Redis(t) },
		"memcached": func(t testing.TB) *Server { return Memcached(t) },
	} {
		t.Run(name, func(t *testing.T) {
			s := start(t)
			if s.Addr() == l.Addr().String() {
				t.Fatalf("%s reports the taken address %s", name, s.Addr())
			}
			log, _ := os.ReadFile(s.LogFile())
			if !strings.Contains(strings.ToLower(string(log)), "address already in use") {
				t.Errorf("the first start did not fail on the port:\n%s", log)
			}
		})
	}
}

// fakeTB records Skipf and Fatalf and stops the call as they do.
type fakeTB struct {
	testing.TB
	skipped, fatal string
}

type stop struct{}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Skipf(format string, a ...any)  { f.skipped = fmt.Sprintf(format, a...); panic(stop{}) }
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...); panic(stop{}) }

func (f *fakeTB) run(fn func(testing.TB)) {
	defer func() {
		if r := recover(); r != nil && r != (stop{}) {
			panic(r)
		}
	}()
	fn(f)
}

func TestMissingBinary(t *testing.T) {
	find := func(tb testing.TB) { findBinary(tb, "httpsession-no-such-server", "some-package", t.TempDir()) }

	t.Setenv(EnvRequireServices, "")
	f := &fakeTB{}
	f.run(find)
	if f.fatal != "" || !strings.Contains(f.skipped, "install the Debian package some-package") {
		t.Errorf("without %s: skipped %q, fatal %q", EnvRequireServices, f.skipped, f.fatal)
	}

	t.Setenv(EnvRequireServices, "1")
	f = &fakeTB{}
	f.run(find)
	if f.skipped != "" || !strings.Contains(f.fatal, "install the Debian package some-package") {
		t.Errorf("with %s=1: skipped %q, fatal %q", EnvRequireServices, f.skipped, f.fatal)
	}

	f = &fakeTB{}
	f.run(func(tb testing.TB) {
		if p := findBinary(tb, "sh", "dash"); p == "" {
			t.Error("sh not found")
		}
	})
	if f.skipped != "" || f.fatal != "" {
		t.Errorf("sh: skipped %q, fatal %q", f.skipped, f.fatal)
	}
}
