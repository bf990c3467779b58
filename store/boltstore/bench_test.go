package boltstore

import (
	"testing"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/storetest"
)

// BenchmarkStore's Put measures one writer: a commit, with its two fsyncs,
// per Put. PutParallel runs 8 writers per CPU, which share commits.
func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(b *testing.B) httpsession.Store {
		return openStore(b, Options{})
	}, storetest.BenchOptions{WriteParallelism: 8})
}
