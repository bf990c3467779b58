package bench

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

// hsLib is httpsession with its default configuration (gob codec, a bare
// 32-byte token in the cookie) on a counted store.
type hsLib struct {
	m     *httpsession.Manager
	store *countingStore
}

// openHTTPSession configures a Manager on store for workload w.
func openHTTPSession(b *testing.B, store httpsession.Store, w workload) lib {
	b.Helper()
	cs := &countingStore{Store: store}
	var wrapped httpsession.Store = cs
	if t, ok := store.(httpsession.Toucher); ok {
		wrapped = &countingToucher{countingStore: cs, toucher: t}
	}
	m, err := httpsession.New(httpsession.Config{Store: wrapped, IdleTimeout: w.idleTimeout})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return &hsLib{m: m, store: cs}
}

func (l *hsLib) counts() storeCounts {
	return storeCounts{reads: l.store.reads.Load(), writes: l.store.writes.Load(), touches: l.store.touches.Load()}
}

func (l *hsLib) handler(st step) http.Handler {
	var fn func(w http.ResponseWriter, s *httpsession.Session)
	switch st {
	case stepNew:
		fn = func(w http.ResponseWriter, s *httpsession.Session) { s.Set("greeting", greeting) }
	case stepSeedUser:
		fn = func(w http.ResponseWriter, s *httpsession.Session) { s.Set("user", "ann") }
	case stepRead:
		fn = func(w http.ResponseWriter, s *httpsession.Session) {
			if v, _ := httpsession.Get[string](s, "user"); v != "ann" {
				fail("httpsession: user is %q, not ann", v)
			}
		}
	case stepIncr:
		fn = func(w http.ResponseWriter, s *httpsession.Session) { s.Incr("n", 1) }
	case stepSeedFat:
		fn = func(w http.ResponseWriter, s *httpsession.Session) {
			for i := range fatKeys {
				s.Set(fatKey(i), fatValues[0])
			}
		}
	case stepFat:
		fn = func(w http.ResponseWriter, s *httpsession.Session) {
			keys := s.Keys()
			for _, k := range keys {
				_ = s.Get(k)
			}
			if len(keys) != fatKeys {
				fail("httpsession: the fat session has %d keys", len(keys))
			}
			s.Set("key07", nextFatValue())
		}
	case stepReadN:
		fn = func(w http.ResponseWriter, s *httpsession.Session) {
			n, _ := httpsession.Get[int64](s, "n")
			w.Write(strconv.AppendInt(nil, n, 10))
		}
	}
	return l.m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fn(w, httpsession.SessionFrom(r.Context()))
	}))
}

// countingStore counts the calls the Manager makes to its store: Get is a
// read, Put and Delete are writes. It forwards Toucher (countingToucher),
// the one optional capability on the request path; without Cleaner the
// Manager runs no janitor, which no benchmark here lasts long enough to
// meet.
type countingStore struct {
	httpsession.Store
	reads, writes, touches atomic.Int64
}

func (s *countingStore) Get(ctx context.Context, key string) (httpsession.Record, error) {
	s.reads.Add(1)
	return s.Store.Get(ctx, key)
}

func (s *countingStore) Put(ctx context.Context, key string, rec httpsession.Record) (uint64, error) {
	s.writes.Add(1)
	return s.Store.Put(ctx, key, rec)
}

func (s *countingStore) Delete(ctx context.Context, key string) error {
	s.writes.Add(1)
	return s.Store.Delete(ctx, key)
}

type countingToucher struct {
	*countingStore
	toucher httpsession.Toucher
}

func (s *countingToucher) Touch(ctx context.Context, key string, expires time.Time) error {
	s.touches.Add(1)
	return s.toucher.Touch(ctx, key, expires)
}
