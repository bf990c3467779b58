package boltstore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
)

// fillAndThin writes n records of 2 KB to the store at path, deletes all
// but every 20th, closes it and returns what is left, by key.
func fillAndThin(t *testing.T, path string, n int) (map[string]httpsession.Record, uint64) {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	exp := time.Now().Add(time.Hour).Round(0)
	kept := map[string]httpsession.Record{}
	var mu sync.Mutex
	var last uint64
	// From 16 goroutines, so that writes share commits.
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				data := bytes.Repeat([]byte{byte(i)}, 2048)
				rec := httpsession.Record{Data: data, Expires: exp, Owner: map[bool]string{true: "u1"}[i%40 == 0]}
				v, err := s.Put(ctx, key(i), rec)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				last = max(last, v)
				if i%20 == 0 {
					rec.Version = v
					kept[key(i)] = rec
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				if i%20 != 0 {
					if err := s.Delete(ctx, key(i)); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return kept, last
}

func TestCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	kept, last := fillAndThin(t, path, 2000)
	res, err := Compact(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if res.After <= 0 || res.After > res.Before/4 {
		t.Errorf("compacted %d bytes to %d, want under a quarter", res.Before, res.After)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Size() != res.After || fi.Mode().Perm() != 0o600 {
		t.Fatalf("after Compact: %v, %v; want mode 0600 and %d bytes", fi, err, res.After)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("directory holds %d entries after Compact, want only the database", len(entries))
	}

	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	for k, want := range kept {
		got, err := s.Get(ctx, k)
		if err != nil || !bytes.Equal(got.Data, want.Data) || got.Version != want.Version || got.Owner != want.Owner || !got.Expires.Equal(want.Expires) {
			t.Fatalf("record %s after Compact: version %d owner %q expires %v (%d bytes), %v; want version %d owner %q expires %v",
				k[:8], got.Version, got.Owner, got.Expires, len(got.Data), err, want.Version, want.Owner, want.Expires)
		}
	}
	if keys, err := s.OwnerKeys(ctx, "u1"); err != nil || len(keys) != 50 {
		t.Errorf("OwnerKeys(u1) after Compact: %d keys, %v; want 50", len(keys), err)
	}
	// The version sequence survives: no version is ever reused.
	if v := mustPut(t, s, key(999_999), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}); v <= last {
		t.Errorf("first version after Compact %d, want above %d", v, last)
	}
	if n, err := s.DeleteExpired(ctx, 0); err != nil || n != 0 {
		t.Errorf("DeleteExpired after Compact: %d, %v", n, err)
	}
}

func TestCompactRefusesOpenDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	fillAndThin(t, path, 200)
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before, _ := os.ReadFile(path)
	_, err = Compact(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "in use") || !strings.Contains(err.Error(), "stop the program") {
		t.Fatalf("Compact of an open database: %v, want an error saying it is in use", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the refused Compact changed the file")
	}
	if _, err := s.Get(t.Context(), key(0)); err != nil {
		t.Errorf("store after the refused Compact: %v", err)
	}
}

func TestCompactCanceledKeepsOriginal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sessions.db")
	fillAndThin(t, path, 200)
	before, _ := os.ReadFile(path)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Compact(ctx, path); err == nil || !strings.Contains(err.Error(), "unchanged") {
		t.Fatalf("Compact with a canceled context: %v, want an error saying the original is unchanged", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("the canceled Compact changed the file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %d entries after a canceled Compact, want only the database", len(entries))
	}
	if _, err := Compact(t.Context(), filepath.Join(dir, "missing.db")); err == nil {
		t.Error("Compact of a missing file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("Compact of a missing file created it")
	}
}

// TestFreelistSettings opens one file with and without SyncFreelist in
// turn; records and versions carry across.
func TestFreelistSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	var last uint64
	for round, sync := range []bool{false, true, false, true} {
		s, err := Open(path, Options{SyncFreelist: sync})
		if err != nil {
			t.Fatal(err)
		}
		for i := range round {
			if rec, err := s.Get(t.Context(), key(i)); err != nil || string(rec.Data) != "x" {
				t.Fatalf("round %d (SyncFreelist %v): record %d: %q, %v", round, sync, i, rec.Data, err)
			}
		}
		v := mustPut(t, s, key(round), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
		if v <= last {
			t.Fatalf("round %d: version %d after %d", round, v, last)
		}
		last = v
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
