package replicated

import (
	"context"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/internal/testservice"
)

// BenchmarkMemcached compares a replicated store on two memcached servers
// with one memcachestore alone, for a Get and for a Put that updates.
func BenchmarkMemcached(b *testing.B) {
	primary := newMemcacheClient(b, testservice.Memcached(b))
	replica := newMemcacheClient(b, testservice.Memcached(b))
	stores := []struct {
		name string
		new  func(b *testing.B) httpsession.Store
	}{
		{"Direct", func(b *testing.B) httpsession.Store { return newMemcachestore(b, primary) }},
		{"Replicated", func(b *testing.B) httpsession.Store {
			return newReplicated(b, newMemcachestore(b, primary), []httpsession.Store{newMemcachestore(b, replica)}, Options{})
		}},
	}
	for _, st := range stores {
		b.Run(st.name+"/Get", func(b *testing.B) {
			s := st.new(b)
			benchPut(b, s, 0)
			b.ResetTimer()
			for range b.N {
				if _, err := s.Get(context.Background(), key); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(st.name+"/Put", func(b *testing.B) {
			s := st.new(b)
			v := benchPut(b, s, 0)
			b.ResetTimer()
			for range b.N {
				v = benchPut(b, s, v)
			}
		})
	}
}

func benchPut(b *testing.B, s httpsession.Store, version uint64) uint64 {
	v, err := s.Put(context.Background(), key, httpsession.Record{Data: make([]byte, 512), Expires: time.Now().Add(time.Hour), Version: version})
	if err != nil {
		b.Fatal(err)
	}
	return v
}
