package bench

import (
	"testing"

	"github.com/httpsession/httpsession/store/memstore"
)

// httpsessionMemstore is httpsession on its in-process store, with the
// store's defaults (100,000 entries, LRU).
var httpsessionMemstore = adapter{
	name: "httpsession-memstore",
	open: func(b *testing.B, w workload) lib {
		s := memstore.New(memstore.Options{})
		b.Cleanup(func() { s.Close() })
		return openHTTPSession(b, s, w)
	},
}
