package boltstore

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
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/httpsession/httpsession"
)

// crashChildEnv names the database file a re-executed test binary writes
// until it is killed.
const crashChildEnv = "HTTPSESSION_CRASH_CHILD"

const (
	crashRounds  = 15
	crashKeys    = 64
	crashWorkers = 4
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
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("kills child processes")
	}
	path := filepath.Join(t.TempDir(), "sessions.db")
	clock := time.Now()
	now := func() time.Time { return clock }
	for round := range crashRounds {
		killCrashChild(t, round, path)

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
		if listed := checkCrashRecords(t, round, s); listed != records {
			t.Errorf("round %d: List saw %d of %d records", round, listed, records)
		}
		if records == 0 {
			t.Errorf("round %d: no records survived", round)
		}
		s.Close()
	}

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

// killCrashChild starts the writer, waits until it has written, lets it run
// for 20 to 200 ms and kills it with SIGKILL.
func killCrashChild(t *testing.T, round int, path string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
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

// checkCrashRecords checks the data of every live record through List and
// Get and returns how many List saw.
func checkCrashRecords(t *testing.T, round int, s *Store) int {
	t.Helper()
	ctx := context.Background()
	listed := 0
	err := s.List(ctx, func(key string, rec httpsession.Record) bool {
		listed++
		if err := crashDataOK(rec.Data); err != nil {
			t.Errorf("round %d: record %.8s…: %v", round, key, err)
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
	return listed
}

// crashData returns a random payload followed by its SHA-256, so a reader
// can tell a whole record from a torn or mixed one. Payloads up to 8 KiB
// span several pages.
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

// crashChild writes to the store at path until it is killed: workers pick
// random keys and create, update with compare-and-set, touch or delete
// them; one in eight writes expires within 100 ms, and worker 0 sweeps now
// and then. It prints one byte once the first write has returned. Any
// unexpected error, or a record it reads with bad data, exits with status 1.
func crashChild(path string) {
	s, err := Open(path, Options{Timeout: 5 * time.Second})
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
