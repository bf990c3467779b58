package main

import (
	"fmt"
	"net/http"
	"net/netip"
	"testing"
	"time"
)

// fakeClock is a clock that the test moves.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func requestFrom(remoteAddr string) *http.Request {
	return &http.Request{RemoteAddr: remoteAddr}
}

func TestCreationLimiterPerClient(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := newCreationLimiter(3, clock.now)
	allowed := func(addr string, n int) int {
		got := 0
		for range n {
			if l.allow(requestFrom(addr)) {
				got++
			}
		}
		return got
	}
	if got := allowed("192.0.2.1:1000", 5); got != 3 {
		t.Fatalf("192.0.2.1: %d of 5 allowed at once, want the burst of 3", got)
	}
	if got := allowed("192.0.2.1:2000", 1); got != 0 {
		t.Fatalf("192.0.2.1 from another port: allowed, want the same client")
	}
	if got := allowed("192.0.2.2:1000", 3); got != 3 {
		t.Fatalf("192.0.2.2: %d of 3 allowed, want 3 (another client)", got)
	}
	// One IPv6 /64 is one client; the next /64 is another.
	if got := allowed("[2001:db8:1:2::1]:1", 2) + allowed("[2001:db8:1:2:ffff::9]:1", 2); got != 3 {
		t.Fatalf("two addresses of one /64: %d of 4 allowed, want 3", got)
	}
	if got := allowed("[2001:db8:1:3::1]:1", 1); got != 1 {
		t.Fatalf("the next /64 was refused")
	}
	// 3 a minute: one more every 20 s.
	clock.t = clock.t.Add(20 * time.Second)
	if got := allowed("192.0.2.1:1000", 2); got != 1 {
		t.Fatalf("20 s later: %d of 2 allowed, want 1", got)
	}
	clock.t = clock.t.Add(time.Hour)
	if got := allowed("192.0.2.1:1000", 5); got != 3 {
		t.Fatalf("an hour later: %d of 5 allowed, want the burst of 3 (no more)", got)
	}
}

func TestCreationLimiterBounded(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := newCreationLimiter(2, clock.now)
	for i := range maxLimitedClients {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if !l.allow(requestFrom(netip.AddrPortFrom(addr, 1).String())) {
			t.Fatalf("client %d refused its first session", i)
		}
	}
	// Every remembered client is still below its burst: no room.
	if l.allow(requestFrom("192.0.2.1:1")) {
		t.Fatalf("a new client was allowed with %d clients remembered, all limited", len(l.clients))
	}
	// A minute later their buckets are full again and they are forgotten.
	clock.t = clock.t.Add(time.Minute)
	if !l.allow(requestFrom("192.0.2.1:1")) {
		t.Fatal("a new client was refused after the buckets refilled")
	}
	if n := len(l.clients); n != 1 {
		t.Fatalf("%d clients remembered after the sweep, want 1", n)
	}
}

func TestClientPrefix(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.1:1234":             "192.0.2.1/32",
		"[::ffff:192.0.2.1]:1234":    "192.0.2.1/32",
		"[2001:db8:a:b:c:d:e:f]:443": "2001:db8:a:b::/64",
		"[fe80::1%eth0]:80":          "fe80::/64",
		"192.0.2.7":                  "192.0.2.7/32",
		"not an address":             "invalid Prefix",
		"":                           "invalid Prefix",
	} {
		if got := fmt.Sprint(clientPrefix(remote)); got != want {
			t.Errorf("clientPrefix(%q) = %s, want %s", remote, got, want)
		}
	}
}
