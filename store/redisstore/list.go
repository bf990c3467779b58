package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/httpsession/httpsession"
)

// scanCount is the COUNT hint of each SCAN: how many keys Redis looks at
// per call, which bounds the time one call holds the server.
const scanCount = 500

// List calls fn for each live session, until fn returns false. It walks
// the keys with SCAN (on every master of a cluster, one after another)
// and reads each record with HMGET, neither of which changes an expiry.
// fn may call the store's other methods, Delete included.
//
// SCAN passes every key that exists from the start to the end of the walk;
// a session created or deleted meanwhile may or may not be passed. SCAN
// may return a key twice, so List remembers the keys it has passed (about
// 50 bytes each) to pass each once. During a cluster resharding a session
// being moved can be missed.
func (s *Store) List(ctx context.Context, fn func(key string, rec httpsession.Record) bool) error {
	nodes, err := s.nodes(ctx)
	if err != nil {
		return s.wrap("list", err)
	}
	match := globEscape(s.prefix) + "*"
	seen := map[[32]byte]struct{}{}
	for _, n := range nodes {
		var cursor uint64
		for {
			var names []string
			names, cursor, err = n.Scan(ctx, cursor, match, scanCount).Result()
			if err != nil {
				return s.wrap("list", err)
			}
			var keys []string
			for _, name := range names {
				// Owner sets share the prefix; their names are not keys.
				if k := strings.TrimPrefix(name, s.prefix); validKey(k) {
					keys = append(keys, k)
				}
			}
			more, err := s.visit(ctx, keys, seen, fn)
			if err != nil {
				return s.wrap("list", err)
			}
			if !more {
				return nil
			}
			if cursor == 0 {
				break
			}
		}
	}
	return nil
}

// visit reads the records under keys and passes the live ones not seen
// before to fn. It reports whether fn wants more. The reads go through the
// store's client, not the node's, so that they follow a slot that moved.
func (s *Store) visit(ctx context.Context, keys []string, seen map[[32]byte]struct{}, fn func(string, httpsession.Record) bool) (bool, error) {
	if len(keys) == 0 {
		return true, nil
	}
	cmds, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.HMGet(ctx, s.prefix+k, recordFields...)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	for i, cmd := range cmds {
		rec, err := parseRecord(cmd.(*redis.SliceCmd).Val())
		if errors.Is(err, httpsession.ErrNotFound) {
			continue // deleted or expired since SCAN saw it, or not ours
		}
		var id [32]byte
		if _, err := hex.Decode(id[:], []byte(keys[i])); err != nil {
			continue
		}
		if _, dup := seen[id]; dup {
			continue
		}
		seen[id] = struct{}{}
		if !fn(keys[i], rec) {
			return false, nil
		}
	}
	return true, nil
}

// nodes returns the clients on which to run per-server commands (SCAN,
// PING): each master of a cluster, each shard of a ring, or the client
// itself.
func (s *Store) nodes(ctx context.Context) ([]redis.Cmdable, error) {
	var forEach func(context.Context, func(context.Context, *redis.Client) error) error
	switch c := s.client.(type) {
	case *redis.ClusterClient:
		forEach = c.ForEachMaster
	case *redis.Ring:
		forEach = c.ForEachShard
	default:
		return []redis.Cmdable{s.client}, nil
	}
	var (
		mu      sync.Mutex
		clients []*redis.Client
	)
	err := forEach(ctx, func(_ context.Context, c *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		clients = append(clients, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// forEach runs concurrently; walk the nodes in a stable order.
	slices.SortFunc(clients, func(a, b *redis.Client) int {
		return strings.Compare(a.Options().Addr, b.Options().Addr)
	})
	nodes := make([]redis.Cmdable, len(clients))
	for i, c := range clients {
		nodes[i] = c
	}
	return nodes, nil
}

// globEscape escapes the characters that are special in a Redis MATCH
// pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
