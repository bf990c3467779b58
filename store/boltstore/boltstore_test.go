package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/storetest"
)

const maxTestRecord = 2 << 20

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) httpsession.Store {
		return openStore(t, Options{MaxRecordSize: maxTestRecord})
	}, storetest.Options{MaxRecordSize: maxTestRecord})
}

func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func key(i int) string { return fmt.Sprintf("%064x", i) }

func mustPut(t testing.TB, s *Store, k string, rec httpsession.Record) uint64 {
	t.Helper()
	v, err := s.Put(context.Background(), k, rec)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return v
}

func TestSecondOpenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	start := time.Now()
	_, err = Open(path, Options{Timeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	if !errors.Is(err, bolterrors.ErrTimeout) || !strings.Contains(err.Error(), "locked") {
		t.Errorf("second Open: %v, want a timeout error saying the database is locked", err)
	}
	// The bounds only tell "fails" from "blocks": a loaded CI machine
	// schedules bbolt's lock polling late.
	if elapsed > 10*time.Second {
		t.Errorf("second Open took %v with a 200ms timeout", elapsed)
	}

	// With the default timeout too: it fails, it does not block.
	start = time.Now()
	if _, err := Open(path, Options{}); err == nil {
		t.Error("second Open with the default timeout succeeded")
	}
	if elapsed := time.Since(start); elapsed > DefaultTimeout+10*time.Second {
		t.Errorf("second Open took %v with the default timeout", elapsed)
	}
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "a.db"), Options{Timeout: -1}); err == nil {
		t.Error("Open with a negative timeout succeeded")
	}
	if _, err := Open(filepath.Join(dir, "b.db"), Options{MaxRecordSize: -1}); err == nil {
		t.Error("Open with a negative MaxRecordSize succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); err != nil {
		t.Errorf("after a failed New: %v", err)
	}
	if _, err := Open(filepath.Join(dir, "missing", "c.db"), Options{}); err == nil {
		t.Error("Open in a missing directory succeeded")
	}
	// The file is 0600.
	s := openStore(t, Options{})
	if fi, err := os.Stat(s.db.Path()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file: %v, %v; want mode 0600", fi.Mode(), err)
	}
}

func TestFormatMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte(DefaultBucket))
		if err != nil {
			return err
		}
		return b.Put(formatKey, []byte{99})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(db, Options{}); err == nil || !strings.Contains(err.Error(), "format") {
		t.Errorf("New on a bucket of another format: %v, want an error about the format", err)
	}
}

// TestNewSharesDB runs two stores in separate buckets of one database the
// caller opened: they do not see each other, and Close leaves the
// database open.
func TestNewSharesDB(t *testing.T) {
	db, err := bolt.Open(filepath.Join(t.TempDir(), "app.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, err := New(db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(db, Options{Bucket: "admin-sessions"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	k := key(1)
	mustPut(t, a, k, httpsession.Record{Data: []byte("a"), Expires: time.Now().Add(time.Hour)})
	if _, err := b.Get(ctx, k); !errors.Is(err, httpsession.ErrNotFound) {
		t.Errorf("store b sees store a's record: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, k); err != nil {
		t.Errorf("Get after Close of a store made by New: %v", err)
	}
	if a.DB() != db {
		t.Error("DB() is not the database given to New")
	}
}

func TestInvalidKeys(t *testing.T) {
	s := openStore(t, Options{})
	ctx := context.Background()
	for _, k := range []string{"", strings.Repeat("a", MaxKeySize+1)} {
		if _, err := s.Put(ctx, k, httpsession.Record{Expires: time.Now().Add(time.Hour)}); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%d-byte key) = %v, want ErrInvalidKey", len(k), err)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Get(%d-byte key) = %v, want ErrInvalidKey", len(k), err)
		}
	}
	if _, err := s.Put(ctx, key(1), httpsession.Record{Owner: strings.Repeat("o", MaxOwnerSize+1), Expires: time.Now().Add(time.Hour)}); !errors.Is(err, httpsession.ErrTooLarge) {
		t.Errorf("Put with an owner over MaxOwnerSize: %v, want ErrTooLarge", err)
	}
}

// TestValuesCopied reads records, then rewrites and grows the database so
// that bbolt reuses pages and remaps the file: what Get and List returned
// must not change (or fault).
func TestValuesCopied(t *testing.T) {
	s := openStore(t, Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	want := map[string][]byte{}
	owners := map[string]string{}
	for i := range 20 {
		want[key(i)] = bytes.Repeat([]byte{byte('a' + i)}, 3000+i)
		owners[key(i)] = fmt.Sprint("user-", i)
		mustPut(t, s, key(i), httpsession.Record{Data: want[key(i)], Owner: owners[key(i)], Expires: exp})
	}
	got := map[string]httpsession.Record{}
	for k := range want {
		rec, err := s.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		got[k] = rec
	}
	listed := map[string]httpsession.Record{}
	if err := s.List(ctx, func(k string, rec httpsession.Record) bool { listed[k] = rec; return true }); err != nil {
		t.Fatal(err)
	}

	for i := range 20 {
		if err := s.Delete(ctx, key(i)); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte{'z'}, 256<<10)
	for i := range 100 { // 25 MiB: past bbolt's first mmap sizes
		mustPut(t, s, key(1000+i), httpsession.Record{Data: big, Expires: exp})
	}

	for k, data := range want {
		if !bytes.Equal(got[k].Data, data) || got[k].Owner != owners[k] {
			t.Errorf("Get result for %.8s… changed after the transaction", k)
		}
		if !bytes.Equal(listed[k].Data, data) || listed[k].Owner != owners[k] {
			t.Errorf("List result for %.8s… changed after the transaction", k)
		}
	}
}

// bucketState checks that the records and the two indexes agree and
// returns how many entries each holds.
func bucketState(t *testing.T, s *Store) (records, expiry, owners int) {
	t.Helper()
	err := s.view(func(b buckets) error {
		wantExpiry := map[string]bool{}
		wantOwners := map[string]bool{}
		err := b.records.ForEach(func(k, v []byte) error {
			records++
			m, _, ok := decode(v)
			if !ok {
				return fmt.Errorf("record %.8s… does not decode", k)
			}
			wantExpiry[string(expiryKey(m.expires, k))] = true
			if m.owner != "" {
				wantOwners[string(ownerKey(m.owner, k))] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := b.expiry.ForEach(func(k, _ []byte) error {
			expiry++
			if !wantExpiry[string(k)] {
				return fmt.Errorf("expiry entry %x has no record", k)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := b.owners.ForEach(func(k, _ []byte) error {
			owners++
			if !wantOwners[string(k)] {
				return fmt.Errorf("owner entry %q has no record", k)
			}
			return nil
		}); err != nil {
			return err
		}
		if expiry != len(wantExpiry) || owners != len(wantOwners) {
			return fmt.Errorf("%d expiry and %d owner entries for %d and %d wanted", expiry, owners, len(wantExpiry), len(wantOwners))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return records, expiry, owners
}

func wantState(t *testing.T, s *Store, step string, records, expiry, owners int) {
	t.Helper()
	r, e, o := bucketState(t, s)
	if r != records || e != expiry || o != owners {
		t.Errorf("%s: %d records, %d expiry and %d owner entries; want %d, %d, %d", step, r, e, o, records, expiry, owners)
	}
}

func TestIndexesInStep(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := openStore(t, Options{Now: clock})
	ctx := context.Background()

	v := map[int]uint64{}
	for i := range 10 {
		owner := ""
		if i%2 == 0 {
			owner = "even"
		}
		v[i] = mustPut(t, s, key(i), httpsession.Record{Data: []byte("x"), Owner: owner, Expires: now.Add(time.Duration(i+1) * time.Minute)})
	}
	wantState(t, s, "after 10 creates", 10, 10, 5)

	// Updates that move Expires and change or clear the owner.
	v[0] = mustPut(t, s, key(0), httpsession.Record{Data: []byte("y"), Owner: "other", Expires: now.Add(time.Hour), Version: v[0]})
	v[2] = mustPut(t, s, key(2), httpsession.Record{Data: []byte("y"), Expires: now.Add(2 * time.Hour), Version: v[2]})
	v[1] = mustPut(t, s, key(1), httpsession.Record{Data: []byte("y"), Owner: "odd", Expires: now.Add(3 * time.Hour), Version: v[1]})
	wantState(t, s, "after updates", 10, 10, 5)

	for i := range 10 {
		if err := s.Touch(ctx, key(i), now.Add(time.Duration(i+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	wantState(t, s, "after touches", 10, 10, 5)

	if err := s.Delete(ctx, key(4)); err != nil { // owned
		t.Fatal(err)
	}
	if err := s.Delete(ctx, key(5)); err != nil { // not owned
		t.Fatal(err)
	}
	wantState(t, s, "after 2 deletes", 8, 8, 4)

	// A conflicting Put changes nothing.
	if _, err := s.Put(ctx, key(3), httpsession.Record{Data: []byte("z"), Owner: "x", Expires: now.Add(time.Hour), Version: v[3] + 1}); !errors.Is(err, httpsession.ErrConflict) {
		t.Fatalf("stale Put: %v", err)
	}
	wantState(t, s, "after a conflict", 8, 8, 4)

	// Expire keys 0..5 (4 and 5 are gone): 4 records.
	mu.Lock()
	now = now.Add(6*time.Minute + time.Second)
	mu.Unlock()
	if n, err := s.DeleteExpired(ctx, 3); err != nil || n != 3 {
		t.Errorf("DeleteExpired(3) = %d, %v", n, err)
	}
	if n, err := s.DeleteExpired(ctx, 0); err != nil || n != 1 {
		t.Errorf("DeleteExpired(0) = %d, %v", n, err)
	}
	r, e, o := bucketState(t, s)
	if r != 4 || e != 4 {
		t.Errorf("after DeleteExpired: %d records, %d expiry entries; want 4, 4", r, e)
	}
	// Keys 6..9 are left; 6 and 8 are "even".
	if keys, err := s.OwnerKeys(ctx, "even"); err != nil || len(keys) != 2 || o != 2 {
		t.Errorf("OwnerKeys(even) = %d keys, %v, %d owner entries; want 2", len(keys), err, o)
	}

	// An expired record recreated with version 0 replaces its old entries.
	mustPut(t, s, key(6), httpsession.Record{Data: []byte("x"), Owner: "even", Expires: now.Add(-time.Second), Version: v[6]})
	mustPut(t, s, key(6), httpsession.Record{Data: []byte("new"), Owner: "new", Expires: now.Add(time.Hour)})
	wantState(t, s, "after recreating an expired key", 4, 4, 2)
}

// TestOwnerPrefixes checks that an owner whose name is a prefix of
// another's does not see the other's keys.
func TestOwnerPrefixes(t *testing.T) {
	s := openStore(t, Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	mustPut(t, s, key(1), httpsession.Record{Owner: "ann", Expires: exp})
	mustPut(t, s, key(2), httpsession.Record{Owner: "anna", Expires: exp})
	mustPut(t, s, key(3), httpsession.Record{Owner: "ann\x00x", Expires: exp})
	for owner, want := range map[string]int{"ann": 1, "anna": 1, "ann\x00x": 1, "an": 0} {
		if keys, err := s.OwnerKeys(ctx, owner); err != nil || len(keys) != want {
			t.Errorf("OwnerKeys(%q) = %d keys, %v; want %d", owner, len(keys), err, want)
		}
	}
}

func TestListBatches(t *testing.T) {
	s := openStore(t, Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	n := 3*listBatch + 7
	for i := range n {
		e := exp
		if i%5 == 0 {
			e = time.Now().Add(-time.Hour)
		}
		mustPut(t, s, key(i), httpsession.Record{Data: []byte("x"), Expires: e})
	}
	seen := map[string]bool{}
	err := s.List(ctx, func(k string, _ httpsession.Record) bool {
		if seen[k] {
			t.Errorf("%.8s… listed twice", k)
		}
		seen[k] = true
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := n - (n+4)/5; len(seen) != want {
		t.Errorf("List passed %d records, want %d", len(seen), want)
	}
}

func TestDeleteExpiredBatches(t *testing.T) {
	now := time.Now()
	s := openStore(t, Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	n := 2*sweepBatch + 10
	err := s.db.Update(func(tx *bolt.Tx) error {
		b, err := s.buckets(tx)
		if err != nil {
			return err
		}
		for i := range n {
			m := meta{version: uint64(i + 1), expires: now.Add(-time.Minute).UnixNano()}
			if err := b.write([]byte(key(i)), m, []byte("x")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, key(n), httpsession.Record{Data: []byte("live"), Expires: now.Add(time.Hour)})
	if got, err := s.DeleteExpired(ctx, sweepBatch+5); err != nil || got != sweepBatch+5 {
		t.Errorf("DeleteExpired(%d) = %d, %v", sweepBatch+5, got, err)
	}
	if got, err := s.DeleteExpired(ctx, 0); err != nil || got != n-sweepBatch-5 {
		t.Errorf("DeleteExpired(0) = %d, %v; want %d", got, err, n-sweepBatch-5)
	}
	wantState(t, s, "after sweeping", 1, 1, 0)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.DeleteExpired(cancelled, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteExpired with a cancelled context: %v", err)
	}
}

func TestVersionsNeverReused(t *testing.T) {
	s := openStore(t, Options{})
	ctx := context.Background()
	k := key(1)
	seen := map[uint64]bool{}
	for range 5 {
		v := mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
		if seen[v] {
			t.Fatalf("version %d issued twice for one key", v)
		}
		seen[v] = true
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCrashLeavesReadableDB kills a process in the middle of writing and
// checks that the database opens, passes bbolt's consistency check, and
// that its records and indexes agree.
func TestCrashLeavesReadableDB(t *testing.T) {
	if path := os.Getenv("BOLTSTORE_CRASH_WRITER"); path != "" {
		crashWriter(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "sessions.db")
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashLeavesReadableDB$")
		cmd.Env = append(os.Environ(), "BOLTSTORE_CRASH_WRITER="+path)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the child has written, then kill it mid-stream.
		buf := make([]byte, 1)
		if _, err := stdout.Read(buf); err != nil {
			t.Fatalf("round %d: child wrote nothing: %v", round, err)
		}
		time.Sleep(100 * time.Millisecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()

		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: Open after a crash: %v", round, err)
		}
		err = s.db.View(func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		if err != nil {
			t.Errorf("round %d: bbolt check: %v", round, err)
		}
		if r, _, _ := bucketState(t, s); r == 0 {
			t.Errorf("round %d: no records survived", round)
		}
		s.Close()
	}
}

// crashWriter writes records until it is killed, printing a byte once the
// first transaction has committed.
func crashWriter(path string) {
	s, err := Open(path, Options{Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("d"), 2000)
	for i := 0; ; i++ {
		k := make([]byte, 32)
		binary.BigEndian.PutUint64(k, uint64(time.Now().UnixNano()))
		exp := time.Now().Add(time.Duration(i%7-3) * time.Hour)
		if _, err := s.Put(ctx, fmt.Sprintf("%x", k), httpsession.Record{Data: data, Owner: fmt.Sprint("u", i%3), Expires: exp}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if i%10 == 9 {
			s.DeleteExpired(ctx, 5)
		}
		if i == 0 {
			os.Stdout.Write([]byte{'.'})
		}
	}
}

// TestGroupCommitAbort queues writes behind a slow one so that they share
// a transaction, one of them failing after it wrote: its write must be
// rolled back, and the others must commit anyway.
func TestGroupCommitAbort(t *testing.T) {
	s := openStore(t, Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	boom := errors.New("boom")
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		err := s.update(func(buckets) error {
			close(started)
			time.Sleep(100 * time.Millisecond) // others queue meanwhile
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-started
	var results sync.Map // write index -> error
	for i := range 10 {
		wg.Go(func() {
			k := []byte(key(i))
			err := s.update(func(b buckets) error {
				if err := b.write(k, meta{version: 1, expires: unixNano(exp)}, []byte("x")); err != nil {
					return err
				}
				if i == 3 {
					return boom
				}
				return nil
			})
			results.Store(i, err)
		})
	}
	wg.Wait()
	for i := range 10 {
		v, _ := results.Load(i)
		err, _ := v.(error)
		_, getErr := s.Get(ctx, key(i))
		if i == 3 {
			if !errors.Is(err, boom) || !errors.Is(getErr, httpsession.ErrNotFound) {
				t.Errorf("failing write: %v, Get: %v; want boom and ErrNotFound", err, getErr)
			}
			continue
		}
		if err != nil || getErr != nil {
			t.Errorf("write %d: %v, Get: %v; want both nil", i, err, getErr)
		}
	}
	wantState(t, s, "after the group", 9, 9, 0)
}

// The expiry index, whose keys arrive in time order, packs its pages
// (expiryFill) instead of leaving each split page half empty as bbolt does
// by default; the records, in random key order, keep bbolt's default.
func TestExpiryIndexPacked(t *testing.T) {
	s := openStore(t, Options{})
	base := time.Now().Add(time.Hour)
	for tx := range 20 {
		err := s.update(func(b buckets) error {
			for i := range 250 {
				n := tx*250 + i
				m := meta{version: uint64(n + 1), expires: base.Add(time.Duration(n) * time.Second).UnixNano()}
				if err := b.write(fmt.Appendf(nil, "%064x", uint64(n+1)*0x9E3779B97F4A7C15), m, make([]byte, 100)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err := s.view(func(b buckets) error {
		st := b.expiry.Stats()
		if st.KeyN != 5000 {
			t.Errorf("expiry index holds %d entries, want 5000", st.KeyN)
		}
		if fill := float64(st.LeafInuse) / float64(st.LeafAlloc); fill < 0.8 {
			t.Errorf("expiry index leaf pages %.0f%% full (%d pages), want at least 80%%", 100*fill, st.LeafPageN)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
