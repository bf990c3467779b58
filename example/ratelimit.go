package main

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/httpsession/httpsession"
)

// maxLimitedClients bounds the clients whose token buckets the limiter
// remembers, so that the limiter itself cannot be flooded.
const maxLimitedClients = 10_000

// creationLimiter lets each client start at most perMinute new sessions a
// minute, with bursts of as many: one token bucket from golang.org/x/time/rate
// per client address. An IPv6 client is its /64, which one subscriber
// usually holds whole; an IPv4 client is its address.
//
// It remembers at most maxLimitedClients clients. A client whose bucket
// has filled up again is forgotten first, which loses nothing; when all the
// remembered clients are still limited, a client it does not know is
// refused until buckets refill. So a flood from more addresses than that
// slows down every new visitor instead of growing the limiter without
// bound.
type creationLimiter struct {
	perMinute int
	now       func() time.Time

	mu        sync.Mutex
	clients   map[netip.Prefix]*rate.Limiter
	lastSweep time.Time
}

func newCreationLimiter(perMinute int, now func() time.Time) *creationLimiter {
	if now == nil {
		now = time.Now
	}
	return &creationLimiter{perMinute: perMinute, now: now, clients: map[netip.Prefix]*rate.Limiter{}}
}

// allow reports whether the client of r may start a new session now, and
// if so takes one token from its bucket.
func (l *creationLimiter) allow(r *http.Request) bool {
	client := clientPrefix(r.RemoteAddr)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, ok := l.clients[client]
	if !ok {
		if len(l.clients) >= maxLimitedClients && !l.sweep(now) {
			return false
		}
		lim = rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)
		l.clients[client] = lim
	}
	return lim.AllowN(now, 1)
}

// allowCreate is the limiter as a Config.AllowCreate hook: it refuses a
// new session beyond the client's rate with an error that wraps
// httpsession.ErrTooManySessions, which the default ErrorHandler answers
// with 429.
func (l *creationLimiter) allowCreate(r *http.Request) error {
	if l.allow(r) {
		return nil
	}
	return fmt.Errorf("example: more than %d new sessions a minute from %s: %w",
		l.perMinute, clientPrefix(r.RemoteAddr), httpsession.ErrTooManySessions)
}

// sweep forgets the clients whose buckets are full again, at most once a
// second, and reports whether there is room for another client.
func (l *creationLimiter) sweep(now time.Time) bool {
	if now.Sub(l.lastSweep) >= time.Second {
		l.lastSweep = now
		for client, lim := range l.clients {
			if lim.TokensAt(now) >= float64(l.perMinute) {
				delete(l.clients, client)
			}
		}
	}
	return len(l.clients) < maxLimitedClients
}

// clientPrefix is the client of a request's RemoteAddr: an IPv4 address,
// or the /64 of an IPv6 address. An address that does not parse is the
// zero Prefix, one client for all such requests.
func clientPrefix(remoteAddr string) netip.Prefix {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	addr = addr.Unmap().WithZone("")
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}
