package bench

import (
	"path/filepath"
	"testing"

	"github.com/httpsession/httpsession/store/boltstore"
)

// httpsessionBoltstore is httpsession on a bbolt file in a temporary
// directory, with the store's defaults (fsync on commit, group commit).
var httpsessionBoltstore = adapter{
	name: "httpsession-boltstore",
	open: func(b *testing.B, w workload) lib {
		s, err := boltstore.Open(filepath.Join(b.TempDir(), "sessions.db"), boltstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return openHTTPSession(b, s, w)
	},
}
