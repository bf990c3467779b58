package testservice

import (
	"io"
	"strings"
	"testing"
)

func TestRedisSentinel(t *testing.T) {
	t.Parallel()
	s := timed(t, "redis sentinel (primary, replica, 3 sentinels)", func() *Sentinel { return RedisSentinel(t) })
	data := s.DataServers()
	if len(data) != 2 || len(s.Addrs()) != 3 {
		t.Fatalf("%d data servers, sentinels %v", len(data), s.Addrs())
	}
	master, err := s.MasterAddr()
	if err != nil || master != data[0].Addr() {
		t.Fatalf("MasterAddr = %q, %v; want %s", master, err, data[0].Addr())
	}
	want := "redis+sentinel://" + strings.Join(s.Addrs(), ",") + "/mymaster"
	if s.URL() != want {
		t.Errorf("URL = %q, want %q", s.URL(), want)
	}
	if got := exchange(t, data[1].Addr(), "SET k v\r\n"); !strings.HasPrefix(got, "-READONLY") {
		t.Errorf("SET on the replica = %q, want a READONLY error", got)
	}
	for _, a := range s.Addrs() {
		if got := exchange(t, a, "SENTINEL get-master-addr-by-name mymaster\r\n"); got != "*2" {
			t.Errorf("sentinel %s: get-master-addr-by-name = %q, want a two-element array", a, got)
		}
	}
}

// Sentinels started with a password refuse a client that does not give
// it, answer one that does, and name the password in their store URL.
func TestRedisSentinelWithPassword(t *testing.T) {
	t.Parallel()
	s := timed(t, "redis sentinel with a password", func() *Sentinel { return RedisSentinelWithPassword(t, "s3 cret") })
	if master, err := s.MasterAddr(); err != nil || master != s.DataServers()[0].Addr() {
		t.Fatalf("MasterAddr = %q, %v", master, err)
	}
	if want := "redis+sentinel://" + strings.Join(s.Addrs(), ",") + "/mymaster?sentinel_password=s3+cret"; s.URL() != want || s.Password() != "s3 cret" {
		t.Errorf("URL = %q, Password = %q; want %q", s.URL(), s.Password(), want)
	}
	for _, a := range s.Addrs() {
		if got := exchange(t, a, "SENTINEL get-master-addr-by-name mymaster\r\n"); !strings.HasPrefix(got, "-NOAUTH") {
			t.Errorf("sentinel %s without the password: %q, want a NOAUTH error", a, got)
		}
		if got := exchange(t, a, "*2\r\n$4\r\nAUTH\r\n$7\r\ns3 cret\r\n"); got != "+OK" {
			t.Errorf("sentinel %s: AUTH with the password = %q", a, got)
		}
	}
	// The data servers ask for nothing.
	if got := exchange(t, s.DataServers()[0].Addr(), "PING\r\n"); got != "+PONG" {
		t.Errorf("PING on the primary = %q", got)
	}
}

func TestRedisClusterWithReplicas(t *testing.T) {
	t.Parallel()
	c := timed(t, "redis cluster (3 masters, 3 replicas)", func() *Cluster { return RedisClusterWithReplicas(t, 3) })
	if len(c.Addrs()) != 6 || len(c.Servers()) != 6 {
		t.Fatalf("Addrs = %v, %d servers", c.Addrs(), len(c.Servers()))
	}
	roles := map[string]int{}
	for _, a := range c.Addrs() {
		conn, r, err := dial("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(conn, "INFO replication\r\n")
		info, err := readRESP(r)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		roles[infoField(info, "role")]++
		if err := clusterNodeReady(a, 6); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	if roles["master"] != 3 || roles["slave"] != 3 {
		t.Errorf("roles %v, want 3 masters and 3 replicas", roles)
	}
}
