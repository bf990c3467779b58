package bench

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
	"github.com/httpsession/httpsession/store/storetest"
)

// BenchmarkBare measures the bare engines under the stores of
// BenchmarkGrowth, at each size of BENCH_GROWTH_SIZES, on databases filled
// as BenchmarkGrowth fills them: the background records loaded the same
// way and the 1,000 working sessions made through a Manager on the store.
// It then bypasses the store and the middleware and asks the engine
// directly, for one of the working sessions chosen at random (after the
// same warm-up):
//
//	op=get  bbolt: a read transaction and one Get of the records bucket;
//	        SQL: the store's SELECT of one row by key, scanned
//	op=put  bbolt: a read-write transaction that puts the record back
//	        (same key, same bytes), committed with its fsyncs;
//	        SQL: an UPDATE of that row's data and version, autocommitted
//
// These are the engine's own figures that the growth report sets beside
// the stores': how much of a store's growth from the smallest size to the
// largest the engine itself shows on the same hardware. Rounds interleave
// the sizes as BenchmarkGrowth does (BENCH_GROWTH_ROUNDS). PostgreSQL
// needs BENCH_POSTGRES_URL (skipped without it).
//
//	Bare/engine=E/round=R/sessions=N/op=O
func BenchmarkBare(b *testing.B) {
	sizes := growthSizes(b)
	rounds := envInt(b, "BENCH_GROWTH_ROUNDS", 5)
	for _, e := range bareEngines {
		b.Run("engine="+e.name, func(b *testing.B) {
			dbs := make([]bareDB, len(sizes))
			keys := make([][]string, len(sizes))
			for i, n := range sizes {
				t := time.Now()
				s, db := e.open(b, i, n)
				app := storetest.NewGrowthApp(b, httpsession.Config{Store: s}, uint64(n))
				dbs[i], keys[i] = db, app.Keys()
				b.Logf("%s: %d sessions stored in %v", e.name, n, time.Since(t).Round(time.Millisecond))
				runtime.GC()
				warmUp(b, app) // as BenchmarkGrowth does
			}
			for r := 1; r <= rounds; r++ {
				b.Run("round="+strconv.Itoa(r), func(b *testing.B) {
					for i, n := range sizes {
						b.Run("sessions="+strconv.Itoa(n), func(b *testing.B) {
							for _, op := range []string{"get", "put"} {
								b.Run("op="+op, func(b *testing.B) {
									benchBare(b, dbs[i], keys[i], op, uint64(n))
									reportLoad(b)
								})
							}
						})
					}
				})
			}
		})
	}
}

// A bareDB runs the bare engine's operations on one database.
type bareDB interface {
	get(key string) error
	put(key string) error
}

type bareEngine struct {
	name string
	// open fills a database of n sessions' worth of background records
	// as BenchmarkGrowth does and returns the store on it (for the
	// working sessions) and the bare engine.
	open func(b *testing.B, i, n int) (httpsession.Store, bareDB)
}

var bareEngines = []bareEngine{
	{"bolt", openBareBolt},
	{"sqlite", openBareSQLite},
	{"postgres", openBarePostgres},
}

func benchBare(b *testing.B, db bareDB, keys []string, op string, seed uint64) {
	rng := rand.New(rand.NewPCG(2, seed))
	f := db.get
	if op == "put" {
		f = db.put
	}
	b.ReportAllocs()
	cpu0, ok := storetest.ProcessCPU()
	for b.Loop() {
		if err := f(keys[rng.IntN(len(keys))]); err != nil {
			b.Fatal(err)
		}
	}
	if cpu1, _ := storetest.ProcessCPU(); ok {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}

// bareBolt is bbolt itself on boltstore's file, with the options
// boltstore.Open gave it.
type bareBolt struct{ db *bolt.DB }

func openBareBolt(b *testing.B, i, n int) (httpsession.Store, bareDB) {
	s := openGrowthBolt(b, i, n)
	return s, bareBolt{s.(*boltstore.Store).DB()}
}

var errMissing = errors.New("working record missing")

func boltRecords(tx *bolt.Tx) *bolt.Bucket {
	return tx.Bucket([]byte(boltstore.DefaultBucket)).Bucket([]byte("records"))
}

func (d bareBolt) get(key string) error {
	return d.db.View(func(tx *bolt.Tx) error {
		if boltRecords(tx).Get([]byte(key)) == nil {
			return errMissing
		}
		return nil
	})
}

func (d bareBolt) put(key string) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		records := boltRecords(tx)
		k := []byte(key)
		v := records.Get(k)
		if v == nil {
			return errMissing
		}
		return records.Put(k, bytes.Clone(v))
	})
}

// bareSQL is database/sql on the store's table, with the store's driver
// and connection settings.
type bareSQL struct {
	get1, put1 *sql.Stmt
}

// newBareSQL prepares the statements on table, whose placeholders are $N
// for PostgreSQL and ? for SQLite (dollar).
func newBareSQL(b *testing.B, db *sql.DB, table string, dollar bool) bareSQL {
	q := func(s string) *sql.Stmt {
		if !dollar {
			for i := 1; i <= 3; i++ {
				s = strings.ReplaceAll(s, "$"+strconv.Itoa(i), "?")
			}
		}
		st, err := db.Prepare(s)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		return st
	}
	return bareSQL{
		get1: q(`SELECT "data", "expires", "version", "owner" FROM ` + table + ` WHERE "key" = $1 AND "expires" > $2`),
		put1: q(`UPDATE ` + table + ` SET "data" = "data", "version" = "version" + 1 WHERE "key" = $1`),
	}
}

func (d bareSQL) get(key string) error {
	var (
		data    []byte
		expires int64
		version int64
		owner   sql.NullString
	)
	return d.get1.QueryRow(key, time.Now().UnixMilli()).Scan(&data, &expires, &version, &owner)
}

func (d bareSQL) put(key string) error {
	r, err := d.put1.Exec(key)
	if err != nil {
		return err
	}
	if n, err := r.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("UPDATE of %s: %d rows (%v)", key, n, err)
	}
	return nil
}

// openBareSQLite fills a database as openGrowthSQLite does and opens a
// second handle on it with the store's DSN (WAL, the store's pragmas).
func openBareSQLite(b *testing.B, i, n int) (httpsession.Store, bareDB) {
	path := filepath.Join(b.TempDir(), fmt.Sprintf("bare-%d.sqlite", i))
	s := openURL(b, "sqlite:"+path)
	fillSQLite(b, path, n-storetest.GrowthWorking, time.Now().Add(24*time.Hour))
	db := sqliteDB(b, path)
	db.SetMaxOpenConns(1) // one connection: its statement cache stays warm
	return s, newBareSQL(b, db, `"httpsession_sessions"`, false)
}

// openBarePostgres fills table growth_N as openGrowthPostgres does and
// opens a pgx handle of its own on the server.
func openBarePostgres(b *testing.B, i, n int) (httpsession.Store, bareDB) {
	s := openGrowthPostgres(b, i, n)
	db, err := sql.Open("pgx", server(b, "BENCH_POSTGRES_URL", "PostgreSQL"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	if err := db.PingContext(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s, newBareSQL(b, db, fmt.Sprintf("growth_%d", n), true)
}
