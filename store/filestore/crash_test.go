//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package filestore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

// crashChildEnv names the directory a re-executed test binary writes to
// until it is killed.
const crashChildEnv = "HTTPSESSION_CRASH_CHILD"

const (
	crashRounds  = 15
	crashKeys    = 64
	crashWorkers = 4
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
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("kills child processes")
	}
	dir := filepath.Join(t.TempDir(), "sessions")
	clock := time.Now()
	now := func() time.Time { return clock }
	var killedWithTemp int
	for round := range crashRounds {
		killCrashChild(t, round, dir)

		s, err := New(dir, Options{Now: now})
		if err != nil {
			t.Fatalf("round %d: New after a crash: %v", round, err)
		}
		records := checkCrashRecords(t, round, s)
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
	}
	t.Logf("%d rounds, %d killed with a temp file in flight", crashRounds, killedWithTemp)

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

// killCrashChild starts the writer, waits until it has written, lets it run
// for 20 to 200 ms and kills it with SIGKILL.
func killCrashChild(t *testing.T, round int, dir string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := stdout.Read(make([]byte, 1)); err != nil {
		cmd.Wait()
		t.Fatalf("round %d: the writer wrote nothing: %v\n%s", round, err, stderr.Bytes())
	}
	time.Sleep(time.Duration(20+rand.IntN(181)) * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("round %d: the writer ended before the kill (%v):\n%s", round, err, stderr.Bytes())
	}
}

// checkCrashRecords checks every file of the store and returns the number
// of records.
func checkCrashRecords(t *testing.T, round int, s *Store) int {
	t.Helper()
	ctx := context.Background()
	files := 0
	for _, name := range dirNames(t, s) {
		switch {
		case strings.HasPrefix(name, tmpPrefix), strings.HasPrefix(name, lockPrefix):
		case validKey(name):
			files++
			rec, err := s.load(name)
			if err != nil {
				t.Errorf("round %d: record %.8s… does not decode: %v", round, name, err)
			} else if err := crashDataOK(rec.Data); err != nil {
				t.Errorf("round %d: record %.8s…: %v", round, name, err)
			}
		default:
			t.Errorf("round %d: unexpected file %q", round, name)
		}
	}
	listed := 0
	err := s.List(ctx, func(key string, rec httpsession.Record) bool {
		listed++
		if err := crashDataOK(rec.Data); err != nil {
			t.Errorf("round %d: List %.8s…: %v", round, key, err)
		}
		got, err := s.Get(ctx, key)
		if err != nil || !bytes.Equal(got.Data, rec.Data) || got.Version != rec.Version {
			t.Errorf("round %d: Get %.8s… after List: version %d, %v; listed version %d", round, key, got.Version, err, rec.Version)
		}
		return true
	})
	if err != nil {
		t.Errorf("round %d: List: %v", round, err)
	}
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

// crashData returns a random payload followed by its SHA-256, so a reader
// can tell a whole record from a torn or mixed one.
func crashData() []byte {
	payload := make([]byte, rand.IntN(8<<10))
	for i := range payload {
		payload[i] = byte(rand.Uint32())
	}
	sum := sha256.Sum256(payload)
	return append(payload, sum[:]...)
}

func crashDataOK(data []byte) error {
	if len(data) < sha256.Size {
		return fmt.Errorf("data of %d bytes, shorter than its checksum", len(data))
	}
	payload := data[:len(data)-sha256.Size]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], data[len(payload):]) {
		return errors.New("data does not match its checksum")
	}
	return nil
}

// crashChild writes to the store in dir until it is killed: workers pick
// random keys and create, update with compare-and-set, touch or delete
// them; one in eight writes expires within 100 ms, and worker 0 sweeps now
// and then. It prints one byte once the first write has returned. Any
// unexpected error, or a record it reads with bad data, exits with status 1.
func crashChild(dir string) {
	s, err := New(dir, Options{})
	if err != nil {
		crashFail(err)
	}
	ctx := context.Background()
	var ready sync.Once
	for w := range crashWorkers {
		go func() {
			for i := w; ; i++ {
				if err := crashStep(ctx, s, i); err != nil {
					crashFail(err)
				}
				if w == 0 && i%16 == 0 {
					if _, err := s.DeleteExpired(ctx, 8); err != nil {
						crashFail(err)
					}
				}
				ready.Do(func() { os.Stdout.Write([]byte{'.'}) })
			}
		}()
	}
	select {}
}

// crashStep does one random operation on a random key.
func crashStep(ctx context.Context, s *Store, i int) error {
	k := key(rand.IntN(crashKeys))
	exp := time.Now().Add(time.Hour + time.Duration(rand.IntN(3600))*time.Second)
	if i%8 == 7 {
		exp = time.Now().Add(time.Duration(rand.IntN(100)) * time.Millisecond)
	}
	rec, err := s.Get(ctx, k)
	switch {
	case errors.Is(err, httpsession.ErrNotFound):
		rec = httpsession.Record{Owner: fmt.Sprint("u", i%3)}
		fallthrough
	case err == nil && i%4 < 2:
		if rec.Version != 0 {
			if err := crashDataOK(rec.Data); err != nil {
				return fmt.Errorf("read %.8s…: %w", k, err)
			}
		}
		rec.Data, rec.Expires = crashData(), exp
		_, err = s.Put(ctx, k, rec)
	case err == nil && i%4 == 2:
		err = s.Touch(ctx, k, exp)
	case err == nil:
		err = s.Delete(ctx, k)
	}
	if errors.Is(err, httpsession.ErrConflict) || errors.Is(err, httpsession.ErrNotFound) {
		return nil
	}
	return err
}

func crashFail(err error) {
	fmt.Fprintln(os.Stderr, "crash writer:", err)
	os.Exit(1)
}
