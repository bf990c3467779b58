// Package crashtest is a test helper for the crash-safety tests of the
// embedded stores (filestore, boltstore). A test re-executes its own binary
// as a writer that hammers the store from several goroutines (Writer), kills
// it with SIGKILL at a random moment (KillRounds), and then checks what the
// writer left: every record's data carries the checksum Data put in it
// (DataOK), and List and Get agree (CheckList). The store-specific checks
// stay in each store's own test.
package crashtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

// ChildEnv names the store location (a file or a directory) a re-executed
// test binary writes until it is killed.
const ChildEnv = "HTTPSESSION_CRASH_CHILD"

const (
	// Rounds is how many times KillRounds starts and kills the writer.
	Rounds  = 15
	keys    = 64
	workers = 4
)

// Store is what the writer needs of a store: reads and writes, touches and
// sweeps.
type Store interface {
	httpsession.Store
	httpsession.Toucher
	httpsession.Cleaner
}

// ListStore is what CheckList needs of a store.
type ListStore interface {
	httpsession.Store
	httpsession.Lister
}

// Key returns the i-th of the keys the writer uses.
func Key(i int) string { return fmt.Sprintf("%064x", i) }

// Data returns a random payload followed by its SHA-256, so a reader can
// tell a whole record from a torn or mixed one. Payloads up to 8 KiB span
// several pages.
func Data() []byte {
	payload := make([]byte, rand.IntN(8<<10))
	for i := range payload {
		payload[i] = byte(rand.Uint32())
	}
	sum := sha256.Sum256(payload)
	return append(payload, sum[:]...)
}

// DataOK reports whether data is a payload followed by its SHA-256, as Data
// makes it.
func DataOK(data []byte) error {
	if len(data) < sha256.Size {
		return fmt.Errorf("data of %d bytes, shorter than its checksum", len(data))
	}
	payload := data[:len(data)-sha256.Size]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], data[len(payload):]) {
		return errors.New("data does not match its checksum")
	}
	return nil
}

// Fail prints err and exits the writer process with status 1.
func Fail(err error) {
	fmt.Fprintln(os.Stderr, "crash writer:", err)
	os.Exit(1)
}

// Writer writes to s until the process is killed: workers pick random keys
// and create, update with compare-and-set, touch or delete them; one in
// eight writes expires within 100 ms, and worker 0 sweeps now and then. It
// prints one byte once the first write has returned. Any unexpected error,
// or a record it reads with bad data, exits with status 1. It never
// returns.
func Writer(s Store) {
	ctx := context.Background()
	var ready sync.Once
	for w := range workers {
		go func() {
			for i := w; ; i++ {
				if err := step(ctx, s, i); err != nil {
					Fail(err)
				}
				if w == 0 && i%16 == 0 {
					if _, err := s.DeleteExpired(ctx, 8); err != nil {
						Fail(err)
					}
				}
				ready.Do(func() { os.Stdout.Write([]byte{'.'}) })
			}
		}()
	}
	select {}
}

// step does one random operation on a random key.
func step(ctx context.Context, s Store, i int) error {
	k := Key(rand.IntN(keys))
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
			if err := DataOK(rec.Data); err != nil {
				return fmt.Errorf("read %.8s…: %w", k, err)
			}
		}
		rec.Data, rec.Expires = Data(), exp
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

// KillRounds runs Rounds rounds. Each one re-executes the running test
// (t.Name()) with ChildEnv set to path, waits until the writer has written,
// lets it run for 20 to 200 ms, kills it with SIGKILL and checks that the
// signal is what ended it; then it calls check with the round's number.
func KillRounds(t *testing.T, path string, check func(round int)) {
	t.Helper()
	for round := range Rounds {
		kill(t, round, path)
		check(round)
	}
}

func kill(t *testing.T, round int, path string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), ChildEnv+"="+path)
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

// CheckList checks the data of every live record through List and Get and
// returns how many List saw.
func CheckList(t *testing.T, round int, s ListStore) int {
	t.Helper()
	ctx := context.Background()
	listed := 0
	err := s.List(ctx, func(key string, rec httpsession.Record) bool {
		listed++
		if err := DataOK(rec.Data); err != nil {
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
	return listed
}
