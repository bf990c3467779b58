package boltstore

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/httpsession/httpsession/internal/crashtest"
)

// TestCrashSafety kills a process that writes the store (new records,
// compare-and-set updates, touches, deletes and sweeps, from several
// goroutines, so that group commits are in flight) with SIGKILL at a random
// moment, then checks what it left: the database opens and passes bbolt's
// consistency check, the records and both indexes agree, every record's
// data carries the checksum the writer put in it, and List and Get agree.
// The file carries over from round to round, so later rounds update
// records that earlier ones left. TestCrashLeavesReadableDB, which only
// inserts, is the older and smaller form of this test.
func TestCrashSafety(t *testing.T) {
	if path := os.Getenv(crashtest.ChildEnv); path != "" {
		s, err := Open(path, Options{Timeout: 5 * time.Second})
		if err != nil {
			crashtest.Fail(err)
		}
		crashtest.Writer(s)
	}
	if testing.Short() {
		t.Skip("kills child processes")
	}
	path := filepath.Join(t.TempDir(), "sessions.db")
	clock := time.Now()
	now := func() time.Time { return clock }
	crashtest.KillRounds(t, path, func(round int) {
		s, err := Open(path, Options{Now: now})
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
		records, _, _ := bucketState(t, s)
		if listed := crashtest.CheckList(t, round, s); listed != records {
			t.Errorf("round %d: List saw %d of %d records", round, listed, records)
		}
		if records == 0 {
			t.Errorf("round %d: no records survived", round)
		}
		s.Close()
	})

	// Past every expiry, the sweeper removes every record the crashes
	// left, with its index entries.
	clock = clock.Add(3 * time.Hour)
	s, err := Open(path, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DeleteExpired(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	wantState(t, s, "after the final sweep", 0, 0, 0)
}
