package bench

import (
	"testing"

	"github.com/gorilla/sessions"
)

// gorillaFilesystemStore is gorilla/sessions keeping one file per session
// in a temporary directory; the cookie holds the signed session id. Its
// length limit (4096 bytes of encoded session by default) is raised so that
// W4's 4 KB session fits.
var gorillaFilesystemStore = adapter{
	name: "gorilla-filesystemstore",
	open: func(b *testing.B, w workload) lib {
		s := sessions.NewFilesystemStore(b.TempDir(), gorillaHashKey)
		s.MaxLength(64 << 10)
		return openGorilla(b, s, true, w)
	},
}
