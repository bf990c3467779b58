package memstore

import (
	"testing"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/storetest"
)

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) httpsession.Store {
		s := New(Options{CleanupInterval: -1})
		b.Cleanup(func() { s.Close() })
		return s
	}, storetest.BenchOptions{})
}
