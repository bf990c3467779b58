package bench

import (
	"path/filepath"
	"testing"

	"github.com/httpsession/httpsession/store/filestore"
)

// httpsessionFilestore is httpsession on one file per session in a
// temporary directory.
var httpsessionFilestore = adapter{
	name: "httpsession-filestore",
	open: func(b *testing.B, w workload) lib {
		// filestore makes its directory 0700, and refuses one that others
		// can read, as b.TempDir's is.
		s, err := filestore.New(filepath.Join(b.TempDir(), "sessions"), filestore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return openHTTPSession(b, s, w)
	},
}
