//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package filestore

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httpsession/httpsession/internal/crashtest"
)

// TestCrashSafety kills a process that writes the store (new records,
// compare-and-set updates, touches, deletes, from several goroutines) with
// SIGKILL at a random moment, then checks what it left: every record file
// decodes and its data carries the checksum the writer put in it, List and
// Get agree, the directory holds nothing but records, lock files and temp
// files, and DeleteExpired keeps the fresh temp files but removes them once
// they are older than staleTemp. The directory carries over from round to
// round, so later rounds update records that earlier ones left.
func TestCrashSafety(t *testing.T) {
	if dir := os.Getenv(crashtest.ChildEnv); dir != "" {
		s, err := New(dir, Options{})
		if err != nil {
			crashtest.Fail(err)
		}
		crashtest.Writer(s)
	}
	if testing.Short() {
		t.Skip("kills child processes")
	}
	dir := filepath.Join(t.TempDir(), "sessions")
	clock := time.Now()
	now := func() time.Time { return clock }
	var killedWithTemp int
	crashtest.KillRounds(t, dir, func(round int) {
		s, err := New(dir, Options{Now: now})
		if err != nil {
			t.Fatalf("round %d: New after a crash: %v", round, err)
		}
		records := checkCrashFiles(t, round, s)
		temps := tempFiles(t, s)
		if len(temps) > 0 {
			killedWithTemp++
		}
		// The child died a moment ago: its temp files are fresh, and a
		// fresh one may belong to a live writer, so the sweep keeps them.
		ctx := context.Background()
		if n, err := s.DeleteExpired(ctx, 0); err != nil || n != 0 {
			t.Fatalf("round %d: DeleteExpired removed %d records of %d live ones: %v", round, n, records, err)
		}
		if left := tempFiles(t, s); len(left) != len(temps) {
			t.Errorf("round %d: DeleteExpired removed fresh temp files: %d before, %d after", round, len(temps), len(left))
		}
		// The age of a temp file is its mtime against the wall clock, not
		// Options.Now, so age them on disk rather than move the clock.
		old := time.Now().Add(-staleTemp - time.Second)
		for _, name := range temps {
			if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := s.DeleteExpired(ctx, 0); err != nil || n != 0 {
			t.Fatalf("round %d: second DeleteExpired: %d, %v", round, n, err)
		}
		if left := tempFiles(t, s); len(left) != 0 {
			t.Errorf("round %d: stale temp files left after DeleteExpired: %v", round, left)
		}
		if records == 0 {
			t.Errorf("round %d: no records survived", round)
		}
		s.Close()
	})
	t.Logf("%d rounds, %d killed with a temp file in flight", crashtest.Rounds, killedWithTemp)

	// Every record the crashes left must be one the sweeper can read: past
	// every expiry, it removes them all and leaves only the lock files.
	clock = clock.Add(3 * time.Hour)
	s, err := New(dir, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.DeleteExpired(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	for _, name := range dirNames(t, s) {
		if !strings.HasPrefix(name, lockPrefix) {
			t.Errorf("%s left after the final sweep", name)
		}
	}
}

// checkCrashFiles checks every file of the store, and the records through
// List and Get, and returns the number of records.
func checkCrashFiles(t *testing.T, round int, s *Store) int {
	t.Helper()
	files := 0
	for _, name := range dirNames(t, s) {
		switch {
		case strings.HasPrefix(name, tmpPrefix), strings.HasPrefix(name, lockPrefix):
		case validKey(name):
			files++
			rec, err := s.load(name)
			if err != nil {
				t.Errorf("round %d: record %.8s… does not decode: %v", round, name, err)
			} else if err := crashtest.DataOK(rec.Data); err != nil {
				t.Errorf("round %d: record %.8s…: %v", round, name, err)
			}
		default:
			t.Errorf("round %d: unexpected file %q", round, name)
		}
	}
	listed := crashtest.CheckList(t, round, s)
	if listed != files {
		t.Errorf("round %d: List saw %d records of %d files", round, listed, files)
	}
	return listed
}

func tempFiles(t *testing.T, s *Store) []string {
	t.Helper()
	var names []string
	for _, name := range dirNames(t, s) {
		if strings.HasPrefix(name, tmpPrefix) {
			names = append(names, name)
		}
	}
	return names
}
