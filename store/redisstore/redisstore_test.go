package redisstore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
	"github.com/httpsession/httpsession/store/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newClient returns a client of the single server at addr, closed when
// the test ends.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

// newClusterClient returns a client of the cluster, closed when the test
// ends.
func newClusterClient(t testing.TB, c *testservice.Cluster) *redis.ClusterClient {
	t.Helper()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { cc.Close() })
	return cc
}

// testPrefix returns a prefix unique to the test and this run, so that
// stores on one server (or on an external one, shared with other runs)
// start empty.
func testPrefix(t testing.TB) string {
	sum := sha256.Sum256([]byte(t.Name()))
	nonce := make([]byte, 4)
	rand.Read(nonce)
	return fmt.Sprintf("hstest:%x%x:", sum[:6], nonce)
}

// newStore returns a store on client with opts and a prefix of the
// test's own; the keys under that prefix are deleted when the test ends.
func newStore(t testing.TB, client redis.UniversalClient, opts Options) *Store {
	t.Helper()
	if opts.Prefix == "" {
		opts.Prefix = testPrefix(t)
	}
	s, err := New(client, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		for _, k := range serverKeys(t, s, opts.Prefix) {
			if err := client.Del(ctx, k).Err(); err != nil {
				t.Errorf("cleanup: DEL %s: %v", k, err)
			}
		}
	})
	return s
}

// serverKeys returns every key on the servers behind s whose name starts
// with prefix ("" for all keys), sorted.
func serverKeys(t testing.TB, s *Store, prefix string) []string {
	t.Helper()
	ctx := context.Background()
	nodes, err := s.nodes(ctx)
	if err != nil {
		t.Fatalf("nodes: %v", err)
	}
	var keys []string
	for _, n := range nodes {
		iter := n.Scan(ctx, 0, globEscape(prefix)+"*", 1000).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Fatalf("SCAN: %v", err)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func factory(client redis.UniversalClient, opts Options) func(t *testing.T) httpsession.Store {
	return func(t *testing.T) httpsession.Store { return newStore(t, client, opts) }
}

func TestSingle(t *testing.T) {
	t.Parallel()
	srv := testservice.Redis(t)
	client := newClient(t, srv.Addr())
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, factory(client, Options{}), storetest.Options{MaxRecordSize: DefaultMaxRecordSize})
	})
	t.Run("Layout", func(t *testing.T) { testLayout(t, client) })
	t.Run("FailedPutChangesNothing", func(t *testing.T) { testFailedPutChangesNothing(t, client) })
	t.Run("OwnerSetExpiry", func(t *testing.T) { testOwnerSetExpiry(t, client) })
	t.Run("OwnerFlipRace", func(t *testing.T) { testOwnerFlipRace(t, client) })
	t.Run("OwnerInterleavings", func(t *testing.T) { testOwnerInterleavings(t, client) })
	t.Run("RetriedPut", func(t *testing.T) { testRetriedPut(t, client) })
	t.Run("InvalidKey", func(t *testing.T) { testInvalidKey(t, client) })
	t.Run("Prefixes", func(t *testing.T) {
		if srv.External() {
			t.Skip("the server is shared: cannot check that every key on it has the prefix")
		}
		testPrefixes(t, client)
	})
}

func TestCluster(t *testing.T) {
	t.Parallel()
	cluster := testservice.RedisCluster(t, 3)
	client := newClusterClient(t, cluster)
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, factory(client, Options{MaxRecordSize: 1 << 20}), storetest.Options{MaxRecordSize: 1 << 20})
	})
	t.Run("Spread", func(t *testing.T) { testSpread(t, client) })
	t.Run("Layout", func(t *testing.T) { testLayout(t, client) })
	t.Run("FailedPutChangesNothing", func(t *testing.T) { testFailedPutChangesNothing(t, client) })
	t.Run("OwnerSetExpiry", func(t *testing.T) { testOwnerSetExpiry(t, client) })
	t.Run("OwnerFlipRace", func(t *testing.T) { testOwnerFlipRace(t, client) })
	t.Run("OwnerInterleavings", func(t *testing.T) { testOwnerInterleavings(t, client) })
}

// TestRing runs the suite on a redis.Ring of two servers: scripts go to the
// shard of their key, List and Ping visit every shard.
func TestRing(t *testing.T) {
	t.Parallel()
	a, b := testservice.Redis(t), testservice.Redis(t)
	if a.External() {
		t.Skip("a ring needs two servers; the external one is a single server")
	}
	ring := redis.NewRing(&redis.RingOptions{
		Addrs:                 map[string]string{"a": a.Addr(), "b": b.Addr()},
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { ring.Close() })
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, factory(ring, Options{MaxRecordSize: 1 << 20}), storetest.Options{MaxRecordSize: 1 << 20})
	})
	t.Run("Spread", func(t *testing.T) {
		ctx := t.Context()
		s := newStore(t, ring, Options{})
		for i := range 40 {
			mustPut(t, s, key(fmt.Sprint("spread", i)), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
		}
		for _, srv := range []*testservice.Server{a, b} {
			if n := newClient(t, srv.Addr()).DBSize(ctx).Val(); n == 0 {
				t.Errorf("shard %s holds none of 40 sessions", srv.Addr())
			}
		}
	})
}

// key returns a key like the Manager's for label.
func key(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:])
}

func mustPut(t *testing.T, s *Store, k string, rec httpsession.Record) uint64 {
	t.Helper()
	v, err := s.Put(t.Context(), k, rec)
	if err != nil {
		t.Fatalf("Put(%.8s…): %v", k, err)
	}
	return v
}

// testLayout checks the Redis keys a session and its owner index are kept
// under, their fields and their expiry, right after a Put.
func testLayout(t *testing.T, client redis.UniversalClient) {
	ctx := t.Context()
	s := newStore(t, client, Options{})
	k := key("layout")
	expires := time.Now().Add(10 * time.Minute)
	v := mustPut(t, s, k, httpsession.Record{Data: []byte("a\x00b"), Owner: "ann", Expires: expires})

	got, err := client.HGetAll(ctx, s.prefix+k).Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"data":  "a\x00b",
		"exp":   fmt.Sprint(expires.UnixMilli()),
		"ver":   fmt.Sprint(v),
		"owner": "ann",
	}
	if !maps.Equal(got, want) {
		t.Errorf("HGETALL %s = %q, want %q", s.prefix+k, got, want)
	}
	ttl, err := client.PTTL(ctx, s.prefix+k).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 0 || ttl > 10*time.Minute || ttl < 9*time.Minute {
		t.Errorf("PTTL right after Put = %v, want about 10m", ttl)
	}
	members, err := client.SMembers(ctx, s.prefix+"owner:ann").Result()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(members, []string{k}) {
		t.Errorf("SMEMBERS %sowner:ann = %q, want [%s]", s.prefix, members, k)
	}
	if keys, want := serverKeys(t, s, s.prefix), []string{s.prefix + k, s.prefix + "owner:ann"}; !slices.Equal(keys, want) {
		t.Errorf("keys under the prefix: %q, want %q", keys, want)
	}
}

// testFailedPutChangesNothing checks that Puts that lose the
// compare-and-set, or are too large, leave the stored hash and its expiry
// as they were, and that a Put on a deleted key does not create it.
func testFailedPutChangesNothing(t *testing.T, client redis.UniversalClient) {
	ctx := t.Context()
	s := newStore(t, client, Options{MaxRecordSize: 100})
	k := key("cas")
	v := mustPut(t, s, k, httpsession.Record{Data: []byte("kept"), Owner: "ann", Expires: time.Now().Add(time.Hour)})
	before, err := client.HGetAll(ctx, s.prefix+k).Result()
	if err != nil {
		t.Fatal(err)
	}
	ttlBefore := client.PTTL(ctx, s.prefix+k).Val()

	later := time.Now().Add(5 * time.Hour)
	for _, tc := range []struct {
		name    string
		rec     httpsession.Record
		wantErr error
	}{
		{"create over a live record", httpsession.Record{Data: []byte("x"), Owner: "bob", Expires: later}, httpsession.ErrConflict},
		{"stale version", httpsession.Record{Data: []byte("x"), Owner: "bob", Expires: later, Version: v + 1}, httpsession.ErrConflict},
		{"too large", httpsession.Record{Data: make([]byte, 101), Owner: "bob", Expires: later, Version: v}, httpsession.ErrTooLarge},
	} {
		if _, err := s.Put(ctx, k, tc.rec); !errors.Is(err, tc.wantErr) {
			t.Fatalf("%s: Put error %v, want %v", tc.name, err, tc.wantErr)
		}
		after, err := client.HGetAll(ctx, s.prefix+k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(after, before) {
			t.Errorf("%s: hash changed from %q to %q", tc.name, before, after)
		}
		if ttl := client.PTTL(ctx, s.prefix+k).Val(); ttl > ttlBefore || ttl < ttlBefore-time.Minute {
			t.Errorf("%s: PTTL went from %v to %v", tc.name, ttlBefore, ttl)
		}
		if n := client.Exists(ctx, s.prefix+"owner:bob").Val(); n != 0 {
			t.Errorf("%s: the losing writer's owner set exists", tc.name)
		}
	}

	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, k, httpsession.Record{Data: []byte("back"), Expires: later, Version: v}); !errors.Is(err, httpsession.ErrConflict) {
		t.Fatalf("Put with the version of a deleted record: %v, want ErrConflict", err)
	}
	if err := s.Touch(ctx, k, later); !errors.Is(err, httpsession.ErrNotFound) {
		t.Fatalf("Touch of a deleted record: %v, want ErrNotFound", err)
	}
	if keys := serverKeys(t, s, s.prefix); len(keys) != 0 {
		t.Errorf("after Delete and a conflicting Put and Touch, keys under the prefix: %q", keys)
	}
}

// testOwnerSetExpiry checks that an owner set lives at least as long as
// the latest of its sessions, through Puts and Touches.
func testOwnerSetExpiry(t *testing.T, client redis.UniversalClient) {
	ctx := t.Context()
	s := newStore(t, client, Options{})
	set := s.prefix + "owner:ann"
	atLeast := func(what string, d time.Duration) {
		t.Helper()
		ttl, err := client.PTTL(ctx, set).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl < d {
			t.Errorf("%s: owner set PTTL = %v, want at least %v", what, ttl, d)
		}
	}
	a, b := key("a"), key("b")
	mustPut(t, s, a, httpsession.Record{Data: []byte("x"), Owner: "ann", Expires: time.Now().Add(time.Hour)})
	atLeast("after a Put of one hour", time.Hour)
	if err := s.Touch(ctx, a, time.Now().Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	atLeast("after a Touch to three hours", 3*time.Hour)
	mustPut(t, s, b, httpsession.Record{Data: []byte("x"), Owner: "ann", Expires: time.Now().Add(30 * time.Minute)})
	atLeast("after a Put of a shorter session", 3*time.Hour)
	if ttl := client.PTTL(ctx, set).Val(); ttl > 3*time.Hour+2*indexSlack {
		t.Errorf("owner set PTTL = %v, want about 3h plus %v", ttl, indexSlack)
	}
}

// testOwnerFlipRace has writers change the owner of one session back and
// forth concurrently, and checks that the index ends up naming the session
// under its final owner, and only there.
func testOwnerFlipRace(t *testing.T, client redis.UniversalClient) {
	ctx := t.Context()
	s := newStore(t, client, Options{})
	k := key("flip")
	mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "u0", Expires: time.Now().Add(time.Hour)})
	const writers, flips = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range flips {
				owner := fmt.Sprintf("u%d", (w+i)%2)
				for {
					rec, err := s.Get(ctx, k)
					if err != nil {
						t.Error(err)
						return
					}
					rec.Owner = owner
					if _, err = s.Put(ctx, k, rec); err == nil {
						break
					} else if !errors.Is(err, httpsession.ErrConflict) {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	rec, err := s.Get(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{"u0", "u1"} {
		// Read the set itself: OwnerKeys repairs what it reads.
		members := client.SMembers(ctx, s.ownerKey(owner)).Val()
		if owner == rec.Owner && !slices.Contains(members, k) {
			t.Errorf("the set of %s, the final owner, lacks the session: %q", owner, members)
		}
		keys, err := s.OwnerKeys(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		want := []string(nil)
		if owner == rec.Owner {
			want = []string{k}
		}
		if !slices.Equal(keys, want) {
			t.Errorf("OwnerKeys(%s) = %.8s, want %.8s (final owner %s)", owner, keys, want, rec.Owner)
		}
	}
}

// testOwnerInterleavings replays, step by step, the interleavings of two
// writers in which an owner set step of one runs after the other's whole
// Put, and checks that the index still names the session under its owner.
func testOwnerInterleavings(t *testing.T, client redis.UniversalClient) {
	ctx := t.Context()
	s := newStore(t, client, Options{})
	expires := time.Now().Add(time.Hour)
	exp := expires.UnixMilli()
	wantOwner := func(what, owner string, want ...string) {
		t.Helper()
		got, err := s.OwnerKeys(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: OwnerKeys(%s) = %.8s, want %.8s", what, owner, got, want)
		}
	}

	// A changes the owner from u1 to u2; before A's index steps, B reads
	// A's record and changes the owner back to u1, index steps included.
	// A's removal of the key from u1's set comes last.
	k := key("flip")
	v0 := mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: expires})
	vA := newVersion(v0)
	old, err := casScript.Run(ctx, client, []string{s.prefix + k}, fmt.Sprint(v0), "a", exp, "u2", fmt.Sprint(vA)).Text()
	if err != nil || old != "u1" {
		t.Fatalf("A's script: %q, %v", old, err)
	}
	mustPut(t, s, k, httpsession.Record{Data: []byte("b"), Owner: "u1", Expires: expires, Version: vA})
	s.reindex(ctx, k, old, "u2", exp)
	if n := s.Stats().IndexFailures; n != 0 {
		t.Fatalf("%d index errors", n)
	}
	wantOwner("owner flipped back during a Put", "u1", k)
	wantOwner("owner flipped back during a Put", "u2")

	// A deletes a session of u1; before A removes the key from u1's set,
	// B creates a session of u1 under the same key.
	k = key("recreated")
	mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "u1", Expires: expires})
	old, err = deleteScript.Run(ctx, client, []string{s.prefix + k}).Text()
	if err != nil || old != "u1" {
		t.Fatalf("A's delete script: %q, %v", old, err)
	}
	mustPut(t, s, k, httpsession.Record{Data: []byte("b"), Owner: "u1", Expires: expires})
	if _, err := s.unindex(ctx, old, []string{k}); err != nil {
		t.Fatal(err)
	}
	wantOwner("session created again during a Delete", "u1", key("flip"), k)
}

// testRetriedPut runs Put's script twice with the same arguments, as
// go-redis does when the reply to the first attempt is lost: the second
// attempt succeeds, it does not conflict with the first.
func testRetriedPut(t *testing.T, client redis.UniversalClient) {
	ctx := t.Context()
	s := newStore(t, client, Options{})
	k := key("retry")
	exp := time.Now().Add(time.Hour).UnixMilli()
	for _, expect := range []string{"0", "12345"} {
		for attempt := range 2 {
			err := casScript.Run(ctx, client, []string{s.prefix + k}, expect, "data", exp, "", expect+"1").Err()
			if err != nil {
				t.Fatalf("expected version %s, attempt %d: %v", expect, attempt+1, err)
			}
		}
		if expect == "0" {
			client.HSet(ctx, s.prefix+k, "ver", "12345")
		}
	}
	rec, err := s.Get(ctx, k)
	if err != nil || rec.Version != 123451 {
		t.Fatalf("Get = version %d, %v; want version 123451", rec.Version, err)
	}
}

// testInvalidKey checks that keys other than 64 lowercase hex characters
// are refused before any Redis key is built from them.
func testInvalidKey(t *testing.T, client redis.UniversalClient) {
	ctx := t.Context()
	s := newStore(t, client, Options{})
	rec := httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}
	for _, k := range []string{
		"",
		"abc",
		strings.Repeat("A", 64),
		strings.Repeat("a", 63),
		strings.Repeat("a", 65),
		strings.Repeat("a", 62) + "*?",
		"../" + strings.Repeat("a", 61),
		"owner:" + strings.Repeat("a", 58),
	} {
		_, errGet := s.Get(ctx, k)
		_, errPut := s.Put(ctx, k, rec)
		errTouch := s.Touch(ctx, k, rec.Expires)
		errDelete := s.Delete(ctx, k)
		for _, err := range []error{errGet, errPut, errTouch, errDelete} {
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("key %q: error %v, want ErrInvalidKey", k, err)
			}
		}
	}
	if keys := serverKeys(t, s, s.prefix); len(keys) != 0 {
		t.Errorf("keys written for invalid keys: %q", keys)
	}
}

// testPrefixes checks, on a private server, that every key the stores
// write starts with their prefix, that the prefix is taken literally in
// SCAN patterns, and that stores with different prefixes do not see each
// other's sessions.
func testPrefixes(t *testing.T, client redis.UniversalClient) {
	ctx := t.Context()
	if err := client.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	def := newStore(t, client, Options{Prefix: DefaultPrefix})
	odd := newStore(t, client, Options{Prefix: "app*[1]?\\:"})
	k := key("shared")
	exp := time.Now().Add(time.Hour)
	mustPut(t, def, k, httpsession.Record{Data: []byte("default"), Owner: "ann", Expires: exp})
	mustPut(t, odd, k, httpsession.Record{Data: []byte("odd"), Owner: "ann", Expires: exp})
	mustPut(t, odd, key("other"), httpsession.Record{Data: []byte("odd 2"), Expires: exp})
	// A key that matches the odd prefix read as a pattern, not literally.
	if err := client.Set(ctx, "appX1Z:"+key("intruder"), "x", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}

	all := serverKeys(t, def, "")
	want := []string{
		"app*[1]?\\:" + k,
		"app*[1]?\\:" + key("other"),
		"app*[1]?\\:owner:ann",
		"appX1Z:" + key("intruder"),
		"httpsession:" + k,
		"httpsession:owner:ann",
	}
	slices.Sort(want)
	if !slices.Equal(all, want) {
		t.Errorf("keys on the server:\n%q\nwant\n%q", all, want)
	}

	for s, wantData := range map[*Store][]string{def: {"default"}, odd: {"odd", "odd 2"}} {
		var got []string
		err := s.List(ctx, func(_ string, rec httpsession.Record) bool {
			got = append(got, string(rec.Data))
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if !slices.Equal(got, wantData) {
			t.Errorf("List with prefix %q: %q, want %q", s.prefix, got, wantData)
		}
	}
	if err := def.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	if rec, err := odd.Get(ctx, k); err != nil || string(rec.Data) != "odd" {
		t.Errorf("after Delete in the other store: Get = %q, %v", rec.Data, err)
	}
	if keys, err := odd.OwnerKeys(ctx, "ann"); err != nil || !slices.Equal(keys, []string{k}) {
		t.Errorf("after Delete in the other store: OwnerKeys = %.8s, %v", keys, err)
	}
}

// testSpread checks that sessions spread over the masters of a cluster.
func testSpread(t *testing.T, client *redis.ClusterClient) {
	ctx := t.Context()
	s := newStore(t, client, Options{})
	for i := range 60 {
		mustPut(t, s, key(fmt.Sprint("spread", i)), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
	}
	nodes, err := s.nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		keys, err := n.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if keys == 0 {
			t.Errorf("master %d of %d holds none of 60 sessions", i+1, len(nodes))
		}
	}
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	srv := testservice.Redis(t)
	client := newClient(t, srv.Addr())
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
		opts   Options
		want   string
	}{
		{"nil client", nil, Options{}, "needs a client"},
		{"hash tag", client, Options{Prefix: "app{sessions}:"}, "brace"},
		{"lone brace", client, Options{Prefix: "app}"}, "brace"},
		{"negative size", client, Options{MaxRecordSize: -1}, "negative"},
	} {
		if s, err := New(tc.client, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, %v; want an error saying %q", tc.name, s, err, tc.want)
		}
	}
	s, err := New(client, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.prefix != DefaultPrefix || s.maxSize != DefaultMaxRecordSize {
		t.Errorf("defaults: prefix %q, max size %d", s.prefix, s.maxSize)
	}
}

// deadAddr returns a 127.0.0.1 address nobody listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestNewDeadServer(t *testing.T) {
	t.Parallel()
	addr := deadAddr(t)
	for _, tc := range []struct {
		name   string
		client redis.UniversalClient
	}{
		{"single", redis.NewClient(&redis.Options{Addr: addr, DialTimeout: time.Second})},
		{"cluster", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, DialTimeout: time.Second})},
	} {
		defer tc.client.Close()
		done := make(chan error, 1)
		go func() {
			_, err := New(tc.client, Options{})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "redisstore: the Redis server does not answer") {
				t.Errorf("%s: New against %s: error %v, want one saying the server does not answer", tc.name, addr, err)
			}
		case <-time.After(pingTimeout + 5*time.Second):
			t.Fatalf("%s: New against %s did not return", tc.name, addr)
		}
	}
}

// TestServerGone checks that errors of a server that went away are
// reported as such, not as missing sessions.
func TestServerGone(t *testing.T) {
	t.Parallel()
	srv := testservice.Redis(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	s := newStore(t, client, Options{})
	ctx := t.Context()
	k := key("gone")
	v := mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: "ann", Expires: time.Now().Add(time.Hour)})
	srv.Kill()
	t.Cleanup(srv.Restart) // for newStore's cleanup

	_, errGet := s.Get(ctx, k)
	_, errPut := s.Put(ctx, k, httpsession.Record{Data: []byte("y"), Expires: time.Now().Add(time.Hour), Version: v})
	_, errOwner := s.OwnerKeys(ctx, "ann")
	errList := s.List(ctx, func(string, httpsession.Record) bool { return true })
	for op, err := range map[string]error{
		"get":        errGet,
		"put":        errPut,
		"touch":      s.Touch(ctx, k, time.Now().Add(time.Hour)),
		"delete":     s.Delete(ctx, k),
		"owner keys": errOwner,
		"list":       errList,
		"ping":       s.Ping(ctx),
	} {
		switch {
		case err == nil:
			t.Errorf("%s with the server down: no error", op)
		case errors.Is(err, httpsession.ErrNotFound), errors.Is(err, httpsession.ErrConflict):
			t.Errorf("%s with the server down: %v, which reads as an answer", op, err)
		case !strings.HasPrefix(err.Error(), "redisstore: "+op+": "):
			t.Errorf("%s with the server down: %q, want it to start with %q", op, err, "redisstore: "+op+": ")
		case !errors.Is(err, httpsession.ErrUnavailable):
			t.Errorf("%s with the server down: %q, want it to wrap httpsession.ErrUnavailable", op, err)
		}
	}
}

func TestGlobEscape(t *testing.T) {
	for in, want := range map[string]string{
		"httpsession:": "httpsession:",
		`a*b?c[d]e\f`:  `a\*b\?c\[d\]e\\f`,
		"ünï:":         "ünï:",
	} {
		if got := globEscape(in); got != want {
			t.Errorf("globEscape(%q) = %q, want %q", in, got, want)
		}
	}
}
