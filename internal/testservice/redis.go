package testservice

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/httpsession/httpsession/internal/testlog"
)

// RedisOption changes how Redis starts a server.
type RedisOption func(*redisConfig)

type redisConfig struct {
	appendOnly bool
	args       []string
}

// AppendOnly turns on Redis persistence: an append-only file fsynced on
// every write (appendfsync always), so data survives Kill and Restart.
// Without it the server keeps nothing on disk.
func AppendOnly() RedisOption {
	return func(c *redisConfig) { c.appendOnly = true }
}

// RedisArgs adds command-line configuration to redis-server, e.g.
// RedisArgs("--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru").
func RedisArgs(args ...string) RedisOption {
	return func(c *redisConfig) { c.args = append(c.args, args...) }
}

// Redis starts a private redis-server on 127.0.0.1 and returns it; it is
// stopped when the test ends. Without options it persists nothing. If
// HTTPSESSION_TEST_REDIS is set, the server at that address is returned
// instead and the options are ignored.
func Redis(t testing.TB, opts ...RedisOption) *Server {
	t.Helper()
	testlog.Attach(t) // go-redis's lines about this server go to t.Log
	if addr := os.Getenv(EnvRedis); addr != "" {
		return external(t, "redis", EnvRedis, []string{addr}, "redis://"+addr, pingRedis)
	}
	var c redisConfig
	for _, o := range opts {
		o(&c)
	}
	return startRedis(t, c, false)
}

func startRedis(t testing.TB, c redisConfig, clusterNode bool) *Server {
	t.Helper()
	bin := findBinary(t, "redis-server", "redis-server")
	kind := "redis"
	if clusterNode {
		kind = "redis-cluster"
	}
	dir := newDir(t, kind)
	s := &Server{
		t:           t,
		kind:        kind,
		dir:         dir,
		logPath:     filepath.Join(dir, "redis.log"),
		stopSig:     syscall.SIGTERM,
		ping:        pingRedis,
		clusterNode: clusterNode,
	}
	s.command = func(port int) *exec.Cmd {
		args := []string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--dir", dir,
			"--daemonize", "no",
			"--logfile", "",
			"--save", "",
			"--appendonly", "no",
		}
		if c.appendOnly {
			args = append(args, "--appendonly", "yes", "--appendfsync", "always")
		}
		if clusterNode {
			args = append(args,
				"--cluster-enabled", "yes",
				"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			)
		}
		args = append(args, c.args...)
		return exec.Command(bin, args...)
	}
	s.boot(func(port int) { s.dsn = fmt.Sprintf("redis://127.0.0.1:%d", port) })
	return s
}

// Cluster is a Redis Cluster of private redis-server nodes, or of external
// ones named by HTTPSESSION_TEST_REDIS_CLUSTER.
type Cluster struct {
	addrs   []string
	servers []*Server
}

// Addrs returns the "host:port" of every node the cluster was created
// with: the masters, and for RedisClusterWithReplicas the replicas too. A
// client takes any of them as seeds; which node is a master now is the
// cluster's business (CLUSTER NODES), since a failover changes it.
func (c *Cluster) Addrs() []string { return append([]string(nil), c.addrs...) }

// Servers returns the nodes, to stop, kill or restart one. A restarted node
// rejoins the cluster with its slots; Restart returns once the node reports
// cluster_state:ok (a master says so no sooner than 2 s after it started).
// Servers is nil for an external cluster.
func (c *Cluster) Servers() []*Server { return append([]*Server(nil), c.servers...) }

// ClusterNodeTimeout is the cluster-node-timeout of the nodes that
// RedisClusterWithReplicas starts: a master that does not answer for this
// long is failed over to its replica. Redis's default is 15 s; tests want
// a failover within seconds.
const ClusterNodeTimeout = 3 * time.Second

// RedisCluster starts a Redis Cluster of masters (at least 3) master nodes
// without replicas, the hash slots spread evenly, and returns once every
// node reports cluster_state:ok, which takes about 2 s: a master does not
// report ok sooner after its start. The nodes are stopped when the test ends.
// If HTTPSESSION_TEST_REDIS_CLUSTER is set, the cluster at those addresses is
// returned instead.
func RedisCluster(t testing.TB, masters int) *Cluster {
	t.Helper()
	return startCluster(t, masters, 0)
}

// RedisClusterWithReplicas starts a Redis Cluster of masters (at least 3)
// masters with one replica each, cluster-node-timeout ClusterNodeTimeout,
// and returns once every node reports cluster_state:ok and every replica
// is in sync with its master, so that killing a master makes its replica
// take over. That takes a few seconds. The nodes are stopped when the test
// ends. If HTTPSESSION_TEST_REDIS_CLUSTER is set, the cluster at those
// addresses is returned instead, whatever its shape.
func RedisClusterWithReplicas(t testing.TB, masters int) *Cluster {
	t.Helper()
	return startCluster(t, masters, 1)
}

func startCluster(t testing.TB, masters, replicas int) *Cluster {
	t.Helper()
	testlog.Attach(t) // go-redis's lines about this cluster go to t.Log
	if env := os.Getenv(EnvRedisCluster); env != "" {
		addrs := splitList(env)
		for _, a := range addrs {
			if err := pingRedis(a, 0); err != nil {
				t.Fatalf("testservice: redis cluster node %s (from $%s) does not answer: %v", a, EnvRedisCluster, err)
			}
		}
		return &Cluster{addrs: addrs}
	}
	if masters < 3 {
		t.Fatalf("testservice: a Redis Cluster needs at least 3 masters, not %d", masters)
	}
	cli := findBinary(t, "redis-cli", "redis-tools")
	var cfg redisConfig
	if replicas > 0 {
		cfg.args = []string{
			"--cluster-node-timeout", strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10),
			// Replicas sync at once, not after the default wait of 5 s
			// for more replicas to share a diskless transfer.
			"--repl-diskless-sync-delay", "0",
		}
	}
	c := &Cluster{}
	for range masters * (1 + replicas) {
		s := startRedis(t, cfg, true)
		c.servers = append(c.servers, s)
		c.addrs = append(c.addrs, s.Addr())
	}
	logPath := filepath.Join(c.servers[0].dir, "cluster-create.log")
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	_ = os.WriteFile(logPath, out, 0o644)
	if err != nil {
		t.Fatalf("testservice: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(readyTimeout)
	for _, s := range c.servers {
		for {
			err := clusterNodeReady(s.Addr(), len(c.servers))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("testservice: redis cluster node %s not ready after %v: %v\n--- %s ---\n%s",
					s.Addr(), readyTimeout, err, logPath, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
		// From now on a restarted node is ready once it is back in the
		// cluster, not at its first PONG.
		s.ping = pingRedisClusterNode
	}
	return c
}

// clusterNodeReady checks that the node at addr reports cluster_state:ok,
// knows all nodes of the cluster and, if it is a replica, is in sync with
// its master: only then can it take over when its master fails.
func clusterNodeReady(addr string, nodes int) error {
	c, r, err := dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "CLUSTER INFO\r\nINFO replication\r\n"); err != nil {
		return err
	}
	info, err := readRESP(r)
	if err != nil {
		return err
	}
	repl, err := readRESP(r)
	if err != nil {
		return err
	}
	if st := infoField(info, "cluster_state"); st != "ok" {
		return fmt.Errorf("cluster_state:%s", st)
	}
	if known := infoField(info, "cluster_known_nodes"); known != strconv.Itoa(nodes) {
		return fmt.Errorf("cluster_known_nodes:%s, want %d", known, nodes)
	}
	if infoField(repl, "role") == "slave" {
		if link := infoField(repl, "master_link_status"); link != "up" {
			return fmt.Errorf("replica: master_link_status:%s", link)
		}
	}
	return nil
}

// pingRedisClusterNode is pingRedis plus a check that the node reports
// cluster_state:ok.
func pingRedisClusterNode(addr string, pid int) error {
	if err := pingRedis(addr, pid); err != nil {
		return err
	}
	state, err := redisClusterState(addr)
	if err != nil {
		return err
	}
	if state != "ok" {
		return fmt.Errorf("cluster_state:%s", state)
	}
	return nil
}

// pingRedis sends PING and, when pid is not 0, checks with INFO that the
// server is process pid.
func pingRedis(addr string, pid int) error { return pingRedisAuth(addr, pid, "") }

// pingRedisAuth is pingRedis for a server that asks password ("" for
// none).
func pingRedisAuth(addr string, pid int, password string) error {
	c, r, err := dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := auth(c, r, password); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "PING\r\nINFO server\r\n"); err != nil {
		return err
	}
	pong, err := readRESP(r)
	if err != nil {
		return err
	}
	if pong != "PONG" {
		return fmt.Errorf("PING answered %q", pong)
	}
	info, err := readRESP(r)
	if err != nil {
		return err
	}
	if pid != 0 && infoField(info, "process_id") != strconv.Itoa(pid) {
		return fmt.Errorf("%s is served by process %s, not by %d", addr, infoField(info, "process_id"), pid)
	}
	return nil
}

// auth sends AUTH password on c, unless password is "".
func auth(c io.Writer, r *bufio.Reader, password string) error {
	if password == "" {
		return nil
	}
	if _, err := fmt.Fprintf(c, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password); err != nil {
		return err
	}
	if ok, err := readRESP(r); err != nil || ok != "OK" {
		return fmt.Errorf("AUTH answered %q, %v", ok, err)
	}
	return nil
}

// redisClusterState returns cluster_state from CLUSTER INFO.
func redisClusterState(addr string) (string, error) {
	c, r, err := dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "CLUSTER INFO\r\n"); err != nil {
		return "", err
	}
	info, err := readRESP(r)
	if err != nil {
		return "", err
	}
	return infoField(info, "cluster_state"), nil
}

// infoField returns the value of "name:value" in a Redis INFO text.
func infoField(info, name string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

// readRESP reads one simple string, error, integer or bulk string reply.
func readRESP(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty RESP reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("bad RESP bulk length %q", line)
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return "", err
		}
		return string(b[:n]), nil
	}
	return "", fmt.Errorf("unexpected RESP reply %q", line)
}
