package bench

import (
	"testing"

	"github.com/alexedwards/scs/v2/memstore"
)

// scsMemstore is scs on its in-process store (a map with a cleanup
// goroutine that runs every minute).
var scsMemstore = adapter{
	name: "scs-memstore",
	open: func(b *testing.B, w workload) lib {
		s := memstore.New()
		b.Cleanup(s.StopCleanup)
		return openSCS(b, s, w)
	},
}
