package testservice

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
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

// SentinelMasterName is the name under which RedisSentinel's sentinels
// monitor the primary.
const SentinelMasterName = "mymaster"

// SentinelDownAfter is the down-after-milliseconds of RedisSentinel's
// sentinels: a primary that does not answer for this long is failed over.
// Redis's default is 30 s; tests want a failover within seconds.
const SentinelDownAfter = 2 * time.Second

// sentinelFailoverTimeout is the sentinels' failover-timeout. A failover
// that stalls (two sentinels asked for votes at once) is retried after
// twice this, so it is kept short; Redis's default is 3 minutes.
const sentinelFailoverTimeout = 6 * time.Second

// Sentinel is a Redis primary with one replica, watched by three Sentinels
// (quorum 2), all private servers on 127.0.0.1.
type Sentinel struct {
	data      []*Server // the first primary, then its replica
	sentinels []*Server
	password  string // the sentinels'; "" when they ask none
}

// MasterName returns the name the sentinels know the primary by.
func (s *Sentinel) MasterName() string { return SentinelMasterName }

// Addrs returns the "host:port" of the three sentinels.
func (s *Sentinel) Addrs() []string {
	out := make([]string, len(s.sentinels))
	for i, x := range s.sentinels {
		out[i] = x.Addr()
	}
	return out
}

// URL returns the store URL of the set-up for store/open:
// redis+sentinel://S1,S2,S3/mymaster, with ?sentinel_password=P when the
// sentinels ask for one.
func (s *Sentinel) URL() string {
	u := "redis+sentinel://" + strings.Join(s.Addrs(), ",") + "/" + SentinelMasterName
	if s.password != "" {
		u += "?sentinel_password=" + url.QueryEscape(s.password)
	}
	return u
}

// Password returns the password the sentinels ask of their clients, ""
// for none.
func (s *Sentinel) Password() string { return s.password }

// DataServers returns the redis-server processes that hold the data: the
// first primary, then its replica. Which one is the primary now is for the
// sentinels to say: see Master.
func (s *Sentinel) DataServers() []*Server { return append([]*Server(nil), s.data...) }

// Sentinels returns the three sentinel processes.
func (s *Sentinel) Sentinels() []*Server { return append([]*Server(nil), s.sentinels...) }

// MasterAddr returns the address of the primary as the first sentinel that
// answers names it.
func (s *Sentinel) MasterAddr() (string, error) {
	var firstErr error
	for _, x := range s.sentinels {
		st, err := sentinelState(x.Addr(), s.password)
		if err == nil {
			return st.master, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return "", firstErr
}

// RedisSentinel starts a primary, a replica of it, and three sentinels that
// monitor it with down-after-milliseconds SentinelDownAfter and quorum 2,
// each a private redis-server on 127.0.0.1; it returns once the replica is
// in sync and every sentinel knows the replica and the other two
// sentinels, so that killing the primary makes them promote the replica.
// That takes a second or two. The servers are stopped when the test ends.
func RedisSentinel(t testing.TB) *Sentinel {
	t.Helper()
	return redisSentinel(t, "")
}

// RedisSentinelWithPassword is RedisSentinel with sentinels that ask
// password of their clients (requirepass) and of each other
// (sentinel-pass); the data servers ask none.
func RedisSentinelWithPassword(t testing.TB, password string) *Sentinel {
	t.Helper()
	return redisSentinel(t, password)
}

func redisSentinel(t testing.TB, password string) *Sentinel {
	t.Helper()
	testlog.Attach(t) // go-redis's lines about this set-up go to t.Log
	// A replica syncs at once rather than after the primary's default
	// wait of 5 s for more replicas to share a diskless transfer.
	master := startRedis(t, redisConfig{args: []string{"--repl-diskless-sync-delay", "0"}}, false)
	replica := startRedis(t, redisConfig{args: []string{"--replicaof", "127.0.0.1", strconv.Itoa(master.port)}}, false)
	s := &Sentinel{data: []*Server{master, replica}, password: password}
	waitFor(t, "the replica to sync", func() error { return replicaInSync(replica.Addr()) })

	// Each sentinel is told of the ones started before it, so that all
	// know each other at once rather than after a round of hello messages.
	var known []string
	for range 3 {
		id := sentinelID(t)
		x := startSentinel(t, master.port, replica.port, id, known, password)
		known = append(known, fmt.Sprintf("%d %s", x.port, id))
		s.sentinels = append(s.sentinels, x)
	}
	for _, x := range s.sentinels {
		waitFor(t, "sentinel "+x.Addr()+" to know the set-up", func() error {
			st, err := sentinelState(x.Addr(), password)
			if err != nil {
				return err
			}
			if st.status != "ok" || st.master != master.Addr() || st.replicas != 1 || st.sentinels != 3 {
				return fmt.Errorf("sentinel reports %+v", st)
			}
			return nil
		})
	}
	return s
}

// startSentinel starts redis-server --sentinel monitoring the primary on
// masterPort, with its replica on replicaPort and the sentinels known ("PORT
// ID") pre-seeded; with a password, the sentinel asks it of its clients
// and gives it to the other sentinels.
func startSentinel(t testing.TB, masterPort, replicaPort int, id string, known []string, password string) *Server {
	t.Helper()
	bin := findBinary(t, "redis-server", "redis-server")
	dir := newDir(t, "redis-sentinel")
	conf := filepath.Join(dir, "sentinel.conf")
	s := &Server{
		t:       t,
		kind:    "redis-sentinel",
		dir:     dir,
		logPath: filepath.Join(dir, "sentinel.log"),
		stopSig: syscall.SIGTERM,
		ping: func(addr string, pid int) error {
			return pingRedisAuth(addr, pid, password)
		},
	}
	s.command = func(port int) *exec.Cmd {
		// A sentinel rewrites its configuration as it learns; a restart
		// keeps what it learnt.
		if _, err := os.Stat(conf); err != nil {
			var b strings.Builder
			fmt.Fprintf(&b, "port %d\nbind 127.0.0.1\ndaemonize no\nlogfile \"\"\ndir %s\n", port, dir)
			fmt.Fprintf(&b, "sentinel myid %s\n", id)
			fmt.Fprintf(&b, "sentinel monitor %s 127.0.0.1 %d 2\n", SentinelMasterName, masterPort)
			fmt.Fprintf(&b, "sentinel down-after-milliseconds %s %d\n", SentinelMasterName, SentinelDownAfter.Milliseconds())
			fmt.Fprintf(&b, "sentinel failover-timeout %s %d\n", SentinelMasterName, sentinelFailoverTimeout.Milliseconds())
			fmt.Fprintf(&b, "sentinel parallel-syncs %s 1\n", SentinelMasterName)
			fmt.Fprintf(&b, "sentinel known-replica %s 127.0.0.1 %d\n", SentinelMasterName, replicaPort)
			for _, k := range known {
				fmt.Fprintf(&b, "sentinel known-sentinel %s 127.0.0.1 %s\n", SentinelMasterName, k)
			}
			if password != "" {
				fmt.Fprintf(&b, "requirepass %q\nsentinel sentinel-pass %q\n", password, password)
			}
			if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
				// Start fails on the missing file, with the reason in its log.
				s.t.Logf("testservice: write %s: %v", conf, err)
			}
		}
		return exec.Command(bin, conf, "--sentinel")
	}
	s.boot(func(port int) {
		s.dsn = fmt.Sprintf("redis://127.0.0.1:%d", port)
		_ = os.Remove(conf) // a retry on another port writes it afresh
	})
	return s
}

// sentinelID returns a fresh sentinel run id: 40 hex characters.
func sentinelID(t testing.TB) string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("testservice: %v", err)
	}
	return hex.EncodeToString(b)
}

// sentinelView is what a sentinel reports of the primary it monitors.
type sentinelView struct {
	status              string
	master              string
	replicas, sentinels int
}

// sentinelState reads INFO sentinel from the sentinel at addr, whose line
// for the primary reads
// "master0:name=mymaster,status=ok,address=127.0.0.1:P,slaves=1,sentinels=3".
// password is the sentinel's, "" for none.
func sentinelState(addr, password string) (sentinelView, error) {
	c, r, err := dial("tcp", addr)
	if err != nil {
		return sentinelView{}, err
	}
	defer c.Close()
	if err := auth(c, r, password); err != nil {
		return sentinelView{}, err
	}
	if _, err := io.WriteString(c, "INFO sentinel\r\n"); err != nil {
		return sentinelView{}, err
	}
	info, err := readRESP(r)
	if err != nil {
		return sentinelView{}, err
	}
	line := infoField(info, "master0")
	if line == "" {
		return sentinelView{}, fmt.Errorf("INFO sentinel names no primary: %q", info)
	}
	var v sentinelView
	for f := range strings.SplitSeq(line, ",") {
		name, val, _ := strings.Cut(f, "=")
		switch name {
		case "name":
			if val != SentinelMasterName {
				return sentinelView{}, fmt.Errorf("the sentinel monitors %q, not %q", val, SentinelMasterName)
			}
		case "status":
			v.status = val
		case "address":
			v.master = val
		case "slaves":
			v.replicas, _ = strconv.Atoi(val)
		case "sentinels":
			v.sentinels, _ = strconv.Atoi(val)
		}
	}
	return v, nil
}

// replicaInSync checks that the server at addr is a replica whose link to
// its primary is up.
func replicaInSync(addr string) error {
	c, r, err := dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "INFO replication\r\n"); err != nil {
		return err
	}
	info, err := readRESP(r)
	if err != nil {
		return err
	}
	if role := infoField(info, "role"); role != "slave" {
		return fmt.Errorf("role:%s", role)
	}
	if link := infoField(info, "master_link_status"); link != "up" {
		return fmt.Errorf("master_link_status:%s", link)
	}
	return nil
}

// waitFor calls check until it succeeds, or fails the test after
// readyTimeout.
func waitFor(t testing.TB, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testservice: waited %v for %s: %v", readyTimeout, what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
