//go:build !unix

package boltstore

import "os"

// fileOwner is not known here; Compact leaves the copy's owner as created.
func fileOwner(os.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }
