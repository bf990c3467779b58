package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

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

// BenchmarkGrowth: W2 and W3 at 1,000 and 100,000 sessions, and at a
// million with HTTPSESSION_BENCH_LARGE=1, beside the bare engine's own
// figures on the same file:
//
//	RawGet     a read transaction and one bbolt Get of a random record
//	StoreGet   Store.Get of a random record: RawGet plus decoding and copying
//	RawUpdate  a read-write transaction that rewrites one random record,
//	           committed (two fsyncs), without the indexes or the Manager
//	GetPut     Store.Get and a compare-and-set Store.Put of a random record
//	           with its expiry and owner unchanged: W3's store calls
//
// RawUpdate and GetPut report pages-written/op, bbolt's count of page
// writes per commit, which unlike time does not depend on how busy the
// disk is.
func BenchmarkGrowth(b *testing.B) {
	storetest.BenchGrowth(b, func(b *testing.B) httpsession.Store {
		return openStore(b, Options{})
	}, storetest.GrowthOptions{
		Fill: bulkFill,
		Extra: map[string]func(b *testing.B, s httpsession.Store, keys []string){
			"RawGet":    benchRawGet,
			"StoreGet":  benchStoreGet,
			"RawUpdate": benchRawUpdate,
			"GetPut":    benchGetPut,
		},
	})
}

// bulkFill writes the background records in transactions of 50,000, as
// Put would lay them out (random key order, indexes and all), but without
// a commit per record.
func bulkFill(b *testing.B, st httpsession.Store, n int, rec func(i int) (string, httpsession.Record)) {
	s := st.(*Store)
	for start := 0; start < n; start += 50_000 {
		err := s.updateAlone(func(bk buckets) error {
			for i := start; i < min(start+50_000, n); i++ {
				k, r := rec(i)
				v, err := bk.records.NextSequence()
				if err != nil {
					return err
				}
				if err := bk.write([]byte(k), meta{version: v, owner: r.Owner, expires: unixNano(r.Expires)}, r.Data); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchRawGet(b *testing.B, st httpsession.Store, keys []string) {
	s := st.(*Store)
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	for b.Loop() {
		k := []byte(keys[rng.IntN(len(keys))])
		err := s.db.View(func(tx *bolt.Tx) error {
			if tx.Bucket(s.bucket).Bucket(recordsBucket).Get(k) == nil {
				return errors.New("missing")
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func benchStoreGet(b *testing.B, st httpsession.Store, keys []string) {
	rng := rand.New(rand.NewPCG(3, 4))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := st.Get(context.Background(), keys[rng.IntN(len(keys))]); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRawUpdate(b *testing.B, st httpsession.Store, keys []string) {
	s := st.(*Store)
	rng := rand.New(rand.NewPCG(3, 4))
	before := s.db.Stats().TxStats
	b.ReportAllocs()
	defer func() { reportWrites(b, s, before) }()
	for b.Loop() {
		k := []byte(keys[rng.IntN(len(keys))])
		err := s.db.Update(func(tx *bolt.Tx) error {
			records := tx.Bucket(s.bucket).Bucket(recordsBucket)
			v := records.Get(k)
			if v == nil {
				return errors.New("missing")
			}
			return records.Put(k, bytes.Clone(v))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// reportWrites reports bbolt's page writes per op since before.
func reportWrites(b *testing.B, s *Store, before bolt.TxStats) {
	after := s.db.Stats().TxStats
	b.ReportMetric(float64(after.GetWrite()-before.GetWrite())/float64(b.N), "pages-written/op")
}

func benchGetPut(b *testing.B, st httpsession.Store, keys []string) {
	s := st.(*Store)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(3, 4))
	before := s.db.Stats().TxStats
	b.ReportAllocs()
	for b.Loop() {
		k := keys[rng.IntN(len(keys))]
		rec, err := s.Get(ctx, k)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Put(ctx, k, rec); err != nil {
			b.Fatal(err)
		}
	}
	reportWrites(b, s, before)
}

// BenchmarkOpen times Open of a file of that many sessions: with the
// freelist not synced (the default), Open rebuilds it by scanning the
// file's pages; with SyncFreelist it reads it.
func BenchmarkOpen(b *testing.B) {
	for _, n := range storetest.GrowthSizes() {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "sessions.db")
			s, err := Open(path, Options{})
			if err != nil {
				b.Fatal(err)
			}
			exp := time.Now().Add(24 * time.Hour)
			data := make([]byte, 200)
			bulkFill(b, s, n, func(i int) (string, httpsession.Record) {
				return fmt.Sprintf("%064x", uint64(i+1)*0x9E3779B97F4A7C15), httpsession.Record{Data: data, Expires: exp}
			})
			s.Close()
			fi, _ := os.Stat(path)
			for _, sync := range []bool{false, true} {
				b.Run(fmt.Sprintf("SyncFreelist=%v", sync), func(b *testing.B) {
					for b.Loop() {
						s, err := Open(path, Options{SyncFreelist: sync})
						if err != nil {
							b.Fatal(err)
						}
						s.Close()
					}
					b.ReportMetric(float64(fi.Size())/1e6, "file-MB")
				})
			}
		})
	}
}
