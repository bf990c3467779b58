package redisstore

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/storetest"
)

// TestUnavailableErrors checks which errors reach callers wrapped with
// httpsession.ErrUnavailable: the replies Redis gives while it starts,
// fails over or has no master for a slot, a server that is not there, and
// a call that ran out of time; not a reply that is the caller's problem,
// nor a call its caller cancelled. The replies are real ones, made by a
// script (redis.error_reply) and parsed by go-redis as any other reply.
func TestUnavailableErrors(t *testing.T) {
	t.Parallel()
	srv := testservice.Redis(t)
	client := newClient(t, srv.Addr())
	s := newStore(t, client, Options{})
	ctx := t.Context()
	reply := func(msg string) error {
		return client.Eval(ctx, "return redis.error_reply(ARGV[1])", nil, msg).Err()
	}
	dead := redis.NewClient(&redis.Options{Addr: deadAddr(t), DialerRetries: 1, MaxRetries: -1})
	t.Cleanup(func() { dead.Close() })
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	expired, cancel2 := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel2()
	<-expired.Done()

	for _, tc := range []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"LOADING", reply("LOADING Redis is loading the dataset in memory"), true},
		{"TRYAGAIN", reply("TRYAGAIN Multiple keys request during rehashing of slot"), true},
		{"CLUSTERDOWN", reply("CLUSTERDOWN Hash slot not served"), true},
		{"READONLY", reply("READONLY You can't write against a read only replica."), true},
		{"MASTERDOWN", reply("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), true},
		{"connection refused", dead.Get(ctx, "k").Err(), true},
		{"deadline", client.Get(expired, "k").Err(), true},
		{"ERR", reply("ERR unknown command 'evalsha'"), false},
		{"NOPERM", reply("NOPERM this user has no permissions to access one of the keys"), false},
		{"OOM", reply("OOM command not allowed when used memory > 'maxmemory'."), false},
		{"cancelled", client.Get(cancelled, "k").Err(), false},
	} {
		if tc.err == nil {
			t.Fatalf("%s: no error to classify", tc.name)
		}
		got := s.wrap("get", tc.err)
		if errors.Is(got, httpsession.ErrUnavailable) != tc.unavailable {
			t.Errorf("%s: %q: errors.Is(ErrUnavailable) = %v, want %v", tc.name, got, !tc.unavailable, tc.unavailable)
		}
		if !errors.Is(got, tc.err) || !strings.HasPrefix(got.Error(), "redisstore: get: ") {
			t.Errorf("%s: %q does not wrap the driver's error %q under the operation", tc.name, got, tc.err)
		}
	}
}

// TestIndexStepFails has the owner index step of Puts, Touches and
// Deletes fail while the record writes succeed, as when the owner set
// lives on a cluster master that is down: here a Redis ACL lets the
// store's user write session keys but not owner sets. The writes must
// succeed, be counted and logged, and the index be repaired afterwards.
func TestIndexStepFails(t *testing.T) {
	t.Parallel()
	srv := testservice.Redis(t)
	if srv.External() {
		t.Skip("the test changes the ACL of the server; it is shared")
	}
	admin := newClient(t, srv.Addr())
	ctx := t.Context()
	prefix := testPrefix(t)
	// Session keys are the prefix and 64 hex characters; owner sets are
	// PREFIX + "owner:...", which the pattern leaves out.
	restrict := func() {
		t.Helper()
		if err := admin.Do(ctx, "ACL", "SETUSER", "app", "reset", "on", ">pw", "+@all", "~"+prefix+"[0-9a-f]*").Err(); err != nil {
			t.Fatal(err)
		}
	}
	allow := func() {
		t.Helper()
		if err := admin.Do(ctx, "ACL", "SETUSER", "app", "allkeys").Err(); err != nil {
			t.Fatal(err)
		}
	}
	restrict()
	app := redis.NewClient(&redis.Options{Addr: srv.Addr(), Username: "app", Password: "pw", ContextTimeoutEnabled: true})
	t.Cleanup(func() { app.Close() })
	var logs syncBuffer
	s, err := New(app, Options{Prefix: prefix, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, k := range serverKeys(t, s, prefix) {
			admin.Del(context.Background(), k)
		}
	})
	wantErrors := func(what string, n uint64) {
		t.Helper()
		if got := s.Stats().IndexFailures; got != n {
			t.Errorf("%s: Stats().IndexFailures = %d, want %d; log:\n%s", what, got, n, logs.String())
		}
	}
	expires := time.Now().Add(time.Hour)
	a, b, c := key("index-a"), key("index-b"), key("index-c")

	// A Put whose index step fails succeeds; its record is there.
	va, err := s.Put(ctx, a, httpsession.Record{Data: []byte("a"), Owner: "ann", Expires: expires})
	if err != nil {
		t.Fatalf("Put with the owner set out of reach: %v, want success", err)
	}
	if rec, err := s.Get(ctx, a); err != nil || rec.Version != va || rec.Owner != "ann" {
		t.Fatalf("Get after the Put: %+v, %v", rec, err)
	}
	wantErrors("after a Put", 1)
	if !strings.Contains(logs.String(), "owner index not updated") || !strings.Contains(logs.String(), "NOPERM") {
		t.Errorf("log after the failed index step:\n%s", logs.String())
	}
	if _, err := s.OwnerKeys(ctx, "ann"); err == nil {
		t.Errorf("OwnerKeys with the owner set out of reach: no error")
	}
	// Touch of an owned session: the same.
	if _, err := s.Put(ctx, b, httpsession.Record{Data: []byte("b"), Owner: "ann", Expires: expires}); err != nil {
		t.Fatal(err)
	}
	if err := s.Touch(ctx, b, expires.Add(time.Hour)); err != nil {
		t.Fatalf("Touch with the owner set out of reach: %v, want success", err)
	}
	wantErrors("after a Put and a Touch", 3)

	// Once the sets are in reach, OwnerKeys repairs what was missed.
	allow()
	got, err := s.OwnerKeys(ctx, "ann")
	slices.Sort(got)
	want := []string{a, b}
	slices.Sort(want)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("OwnerKeys after the repair = %.8s, %v; want %.8s", got, err, want)
	}
	if n := admin.SCard(ctx, prefix+"owner:ann").Val(); n != 2 {
		t.Errorf("the owner set holds %d keys after the repair, want 2", n)
	}

	// A successful index step repairs pending additions of other owners.
	restrict()
	if _, err := s.Put(ctx, c, httpsession.Record{Data: []byte("c"), Owner: "bob", Expires: expires}); err != nil {
		t.Fatal(err)
	}
	allow()
	if _, err := s.Put(ctx, key("index-d"), httpsession.Record{Data: []byte("d"), Owner: "cy", Expires: expires}); err != nil {
		t.Fatal(err)
	}
	if members := admin.SMembers(ctx, prefix+"owner:bob").Val(); !slices.Equal(members, []string{c}) {
		t.Errorf("bob's set after another owner's successful Put: %.8s, want [%.8s]", members, c)
	}

	// A Delete whose index step fails succeeds; OwnerKeys drops the stale
	// entry later.
	restrict()
	if err := s.Delete(ctx, a); err != nil {
		t.Fatalf("Delete with the owner set out of reach: %v, want success", err)
	}
	wantErrors("after a Delete too", 5)
	allow()
	if got, err := s.OwnerKeys(ctx, "ann"); err != nil || !slices.Equal(got, []string{b}) {
		t.Fatalf("OwnerKeys after the Delete = %.8s, %v; want [%.8s]", got, err, b)
	}
	if members := admin.SMembers(ctx, prefix+"owner:ann").Val(); !slices.Equal(members, []string{b}) {
		t.Errorf("ann's set after OwnerKeys: %.8s, want [%.8s]", members, b)
	}
}

// syncBuffer is a bytes.Buffer for a logger used from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestSentinel runs the suite through a go-redis failover client on a
// primary, a replica and three sentinels, and checks that New refuses a
// client connected to a sentinel itself, which answers PING but keeps no
// data, and that writes a replica refuses count as unavailability.
func TestSentinel(t *testing.T) {
	t.Parallel()
	set := testservice.RedisSentinel(t)
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            set.MasterName(),
		SentinelAddrs:         set.Addrs(),
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { client.Close() })
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, factory(client, Options{MaxRecordSize: 1 << 20}), storetest.Options{MaxRecordSize: 1 << 20})
	})
	t.Run("RefuseSentinel", func(t *testing.T) {
		c := newClient(t, set.Addrs()[0])
		s, err := New(c, Options{})
		if err == nil || !strings.Contains(err.Error(), "is a Redis Sentinel") || !strings.Contains(err.Error(), "redis+sentinel://") {
			t.Fatalf("New on a sentinel = %v, %v; want an error that says it is a sentinel and what to use", s, err)
		}
	})
	t.Run("ReplicaRefusesWrites", func(t *testing.T) {
		s, err := New(newClient(t, set.DataServers()[1].Addr()), Options{Prefix: testPrefix(t)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Put(t.Context(), key("replica"), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
		if !errors.Is(err, httpsession.ErrUnavailable) || !redis.IsReadOnlyError(err) {
			t.Fatalf("Put on a replica: %v, want ErrUnavailable wrapping READONLY", err)
		}
	})
}
