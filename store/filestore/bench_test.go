//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package filestore

import (
	"testing"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/storetest"
)

// BenchmarkStore's Put measures a durable write: temporary file, fsync,
// rename, directory fsync. The disk sets the pace.
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) httpsession.Store {
		return newStore(b, Options{})
	}, storetest.BenchOptions{})
}
