package bench

import (
	"testing"

	"github.com/gorilla/sessions"
)

// gorillaCookieStore is gorilla/sessions keeping the whole session in the
// cookie, signed. W4's 4 KB session does not fit in a cookie: browsers
// keep at most 4096 bytes per cookie and the signed, base64-encoded session
// is larger, so securecookie refuses it.
var gorillaCookieStore = adapter{
	name:        "gorilla-cookiestore",
	clientState: true,
	open: func(b *testing.B, w workload) lib {
		if w.name == "W4" {
			b.Skip("n/a: a 4 KB session does not fit in a 4 KB cookie")
		}
		return openGorilla(b, sessions.NewCookieStore(gorillaHashKey), false, w)
	},
}
