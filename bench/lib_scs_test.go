package bench

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
)

// scsLib is alexedwards/scs v2 with its defaults (gob codec, a bare
// 32-byte token in the cookie) on a counted store.
type scsLib struct {
	sm    *scs.SessionManager
	store *scsCountingStore
}

// openSCS configures a SessionManager on store for workload w.
func openSCS(b *testing.B, store scs.Store, w workload) lib {
	b.Helper()
	cs := &scsCountingStore{inner: store}
	cs.ctxInner, _ = store.(scs.CtxStore)
	sm := scs.New()
	sm.Store = cs
	sm.IdleTimeout = w.idleTimeout
	return &scsLib{sm: sm, store: cs}
}

func (l *scsLib) counts() storeCounts {
	return storeCounts{reads: l.store.reads.Load(), writes: l.store.writes.Load()}
}

func (l *scsLib) handler(st step) http.Handler {
	sm := l.sm
	var fn func(w http.ResponseWriter, ctx context.Context)
	switch st {
	case stepNew:
		fn = func(w http.ResponseWriter, ctx context.Context) { sm.Put(ctx, "greeting", greeting) }
	case stepSeedUser:
		fn = func(w http.ResponseWriter, ctx context.Context) { sm.Put(ctx, "user", "ann") }
	case stepRead:
		fn = func(w http.ResponseWriter, ctx context.Context) {
			if v := sm.GetString(ctx, "user"); v != "ann" {
				fail("scs: user is %q, not ann", v)
			}
		}
	case stepIncr:
		// scs has no atomic update; this is how its users count.
		fn = func(w http.ResponseWriter, ctx context.Context) { sm.Put(ctx, "n", sm.GetInt(ctx, "n")+1) }
	case stepSeedFat:
		fn = func(w http.ResponseWriter, ctx context.Context) {
			for i := range fatKeys {
				sm.Put(ctx, fatKey(i), fatValues[0])
			}
		}
	case stepFat:
		fn = func(w http.ResponseWriter, ctx context.Context) {
			keys := sm.Keys(ctx)
			for _, k := range keys {
				_ = sm.Get(ctx, k)
			}
			if len(keys) != fatKeys {
				fail("scs: the fat session has %d keys", len(keys))
			}
			sm.Put(ctx, "key07", nextFatValue())
		}
	case stepReadN:
		fn = func(w http.ResponseWriter, ctx context.Context) {
			w.Write(strconv.AppendInt(nil, int64(sm.GetInt(ctx, "n")), 10))
		}
	}
	return sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(w, r.Context())
	}))
}

// scsCountingStore counts scs's store calls: Find is a read, Commit and
// Delete are writes. It offers the context-aware methods, which scs
// prefers, and passes them on as the wrapped store takes them.
type scsCountingStore struct {
	inner         scs.Store
	ctxInner      scs.CtxStore // nil when inner has no context-aware methods
	reads, writes atomic.Int64
}

func (s *scsCountingStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

func (s *scsCountingStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

func (s *scsCountingStore) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

func (s *scsCountingStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	s.reads.Add(1)
	if s.ctxInner != nil {
		return s.ctxInner.FindCtx(ctx, token)
	}
	return s.inner.Find(token)
}

func (s *scsCountingStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	s.writes.Add(1)
	if s.ctxInner != nil {
		return s.ctxInner.CommitCtx(ctx, token, b, expiry)
	}
	return s.inner.Commit(token, b, expiry)
}

func (s *scsCountingStore) DeleteCtx(ctx context.Context, token string) error {
	s.writes.Add(1)
	if s.ctxInner != nil {
		return s.ctxInner.DeleteCtx(ctx, token)
	}
	return s.inner.Delete(token)
}
