//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/storetest"
	"golang.org/x/sys/unix"
)

const maxTestRecord = 2 << 20

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) httpsession.Store {
		return newStore(t, Options{MaxRecordSize: maxTestRecord})
	}, storetest.Options{MaxRecordSize: maxTestRecord})
}

func newStore(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := New(filepath.Join(t.TempDir(), "sessions"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func key(i int) string { return fmt.Sprintf("%064x", i) }

func mustPut(t *testing.T, s *Store, k string, rec httpsession.Record) uint64 {
	t.Helper()
	v, err := s.Put(context.Background(), k, rec)
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	return v
}

func recordPath(s *Store, k string) string { return filepath.Join(s.dir.f.Name(), k) }

func TestInvalidKeys(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	for _, k := range []string{
		"",
		"../" + strings.Repeat("a", 61),
		`..\` + strings.Repeat("a", 61),
		".." + strings.Repeat("a", 62),
		"/" + strings.Repeat("a", 63),
		"C:" + strings.Repeat("a", 62),
		strings.Repeat("A", 64), // uppercase
		strings.Repeat("a", 63),
		strings.Repeat("a", 65),
		strings.Repeat("a", 63) + "\x00",
		strings.Repeat("g", 64),
	} {
		rec := httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}
		if _, err := s.Put(ctx, k, rec); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Put(%q) = %v, want ErrInvalidKey", k, err)
		}
		if _, err := s.Get(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Get(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Delete(ctx, k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidKey", k, err)
		}
		if err := s.Touch(ctx, k, time.Now()); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("Touch(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	entries, err := os.ReadDir(s.dir.f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("invalid keys left %d entries in the directory, want none", len(entries))
	}
}

func TestModes(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "a", "sessions")
	s, err := New(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustPut(t, s, key(1), httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})

	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("directory mode %#o, want 0700", got)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("no files written")
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if got := info.Mode(); got != 0o600 {
			t.Errorf("%s: mode %v, want -rw-------", e.Name(), got)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	parent := t.TempDir()
	open := filepath.Join(parent, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := New(open, Options{}); err == nil || !strings.Contains(err.Error(), "0700") {
		t.Errorf("New on a 0755 directory: %v, want an error naming 0700", err)
	}

	private := filepath.Join(parent, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(parent, "link")
	if err := os.Symlink(private, link); err != nil {
		t.Fatal(err)
	}
	if _, err := New(link, Options{}); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("New on a symbolic link: %v, want an error about the link", err)
	}

	file := filepath.Join(parent, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(file, Options{}); err == nil {
		t.Error("New on a regular file succeeded")
	}
	if _, err := New(private, Options{MaxRecordSize: -1}); err == nil {
		t.Error("New with a negative MaxRecordSize succeeded")
	}
}

func TestNewRefusesForeignOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory to another user")
	}
	const nobody = 65534
	dir := filepath.Join(t.TempDir(), "sessions")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	_, err := New(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") || !strings.Contains(err.Error(), "chown") {
		t.Fatalf("New on a 0700 directory owned by nobody: %v, want an error naming the owner and what to do", err)
	}
	// Given back to this process's user, the same directory is accepted.
	if err := os.Chown(dir, os.Geteuid(), os.Getegid()); err != nil {
		t.Fatal(err)
	}
	s, err := New(dir, Options{})
	if err != nil {
		t.Fatalf("New after chown back: %v", err)
	}
	s.Close()
}

func TestNewRefusesWorldWritableParent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mode    os.FileMode // of the directory two levels above
		refused bool
	}{
		{"world-writable", 0o777, true},
		{"world-writable and sticky", 0o777 | os.ModeSticky, false},
		{"private", 0o755, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shared := filepath.Join(t.TempDir(), "shared")
			if err := os.Mkdir(shared, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(shared, tc.mode); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(shared, "app", "sessions")
			s, err := New(dir, Options{})
			if !tc.refused {
				if err != nil {
					t.Fatalf("New under a %v parent: %v", tc.mode, err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatalf("New under a %v parent succeeded, want a refusal", tc.mode)
			}
			if msg := err.Error(); !strings.Contains(msg, shared+",") || !strings.Contains(msg, "sticky") {
				t.Fatalf("New under a %v parent: %q, want an error naming %s and the sticky bit", tc.mode, msg, shared)
			}
		})
	}
}

func TestSymlinkNotFollowed(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	target := filepath.Join(t.TempDir(), "target")
	secret := []byte("do not touch")
	if err := os.WriteFile(target, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	k := key(7)
	if err := os.Symlink(target, recordPath(s, k)); err != nil {
		t.Fatal(err)
	}

	_, err := s.Get(ctx, k)
	if !errors.Is(err, httpsession.ErrNotFound) || !errors.Is(err, errSymlink) {
		t.Errorf("Get through a symlink: %v, want ErrNotFound about the symlink", err)
	}
	if err := s.Touch(ctx, k, time.Now().Add(time.Hour)); !errors.Is(err, httpsession.ErrNotFound) {
		t.Errorf("Touch through a symlink: %v, want ErrNotFound", err)
	}
	if n, err := s.DeleteExpired(ctx, 0); n != 0 || err != nil {
		t.Errorf("DeleteExpired with a planted symlink: %d, %v; want 0, nil", n, err)
	}
	// A create replaces the link itself, never writes through it.
	mustPut(t, s, k, httpsession.Record{Data: []byte("mine"), Expires: time.Now().Add(time.Hour)})
	if got, err := os.ReadFile(target); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("symlink target now %q, %v; want it untouched", got, err)
	}
	fi, err := os.Lstat(recordPath(s, k))
	if err != nil || !fi.Mode().IsRegular() {
		t.Errorf("record path after Put: %v, %v; want a regular file", fi, err)
	}
}

func TestFIFODoesNotHang(t *testing.T) {
	s := newStore(t, Options{})
	k := key(8)
	if err := unix.Mkfifo(recordPath(s, k), 0o600); err != nil {
		t.Skip("mkfifo:", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Get(context.Background(), k)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, httpsession.ErrNotFound) {
			t.Errorf("Get of a FIFO: %v, want ErrNotFound", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get of a FIFO hangs")
	}
}

func TestNoTempFilesLeft(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			k := key(w)
			var v uint64
			for i := range 100 {
				var err error
				v, err = s.Put(ctx, k, httpsession.Record{Data: fmt.Appendf(nil, "%d", i), Expires: exp, Version: v})
				if err != nil {
					t.Error(err)
					return
				}
				if i%10 == 0 {
					if err := s.Touch(ctx, k, exp); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for _, name := range dirNames(t, s) {
		if strings.HasPrefix(name, tmpPrefix) {
			t.Errorf("temporary file %s left", name)
		}
	}
}

func dirNames(t *testing.T, s *Store) []string {
	t.Helper()
	entries, err := os.ReadDir(s.dir.f.Name())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestNoTornReads rewrites a 64 KiB record while readers read it: every read
// must be one of the values written, whole.
func TestNoTornReads(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	k := key(9)
	exp := time.Now().Add(time.Hour)
	value := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 64<<10) }
	v := mustPut(t, s, k, httpsession.Record{Data: value(0), Expires: exp})

	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				rec, err := s.Get(ctx, k)
				if err != nil {
					t.Errorf("Get during writes: %v", err)
					return
				}
				if len(rec.Data) != 64<<10 || !bytes.Equal(rec.Data, bytes.Repeat(rec.Data[:1], len(rec.Data))) {
					t.Errorf("torn read: %d bytes starting %q", len(rec.Data), rec.Data[:min(8, len(rec.Data))])
					return
				}
				reads.Add(1)
			}
		})
	}
	for i := 1; i <= 50; i++ {
		var err error
		if v, err = s.Put(ctx, k, httpsession.Record{Data: value(i), Expires: exp, Version: v}); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d reads during 50 writes", reads.Load())
}

func TestCorruptFiles(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	s := newStore(t, Options{Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	ctx := context.Background()
	exp := now.Add(time.Hour)
	good := encodeHeader(httpsession.Record{Owner: "u1", Expires: exp, Data: []byte("payload")}, 5)
	good = append(good, "payload"...)

	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x40
		return b
	}
	future := bytes.Clone(good)
	future[5] = 2 // format version 2

	cases := map[string][]byte{
		"empty":          {},
		"short":          []byte("HSFS"),
		"header only":    good[:headerSize],
		"truncated data": good[:len(good)-1],
		"extra byte":     append(bytes.Clone(good), 'x'),
		"bad magic":      flip(0),
		"version bit":    flip(9),
		"owner bit":      flip(headerSize),
		"data bit":       flip(len(good) - 1),
		"huge lengths":   append(append(bytes.Clone(good[:24]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), good[32:]...),
		"garbage":        bytes.Repeat([]byte{0xff}, 1000),
	}
	i := 100
	var corrupt []string
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			k := key(i)
			i++
			corrupt = append(corrupt, k)
			if err := os.WriteFile(recordPath(s, k), content, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, k); !errors.Is(err, httpsession.ErrNotFound) {
				t.Errorf("Get: %v, want ErrNotFound", err)
			}
			if err := s.Touch(ctx, k, exp); !errors.Is(err, httpsession.ErrNotFound) {
				t.Errorf("Touch: %v, want ErrNotFound", err)
			}
			if _, err := s.Put(ctx, k, httpsession.Record{Data: []byte("x"), Expires: exp, Version: 5}); !errors.Is(err, httpsession.ErrConflict) {
				t.Errorf("Put with the version in the file: %v, want ErrConflict", err)
			}
		})
	}
	futureKey := key(99)
	if err := os.WriteFile(recordPath(s, futureKey), future, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, futureKey); !errors.Is(err, httpsession.ErrNotFound) {
		t.Errorf("Get of a newer format: %v, want ErrNotFound", err)
	}
	if keys, err := s.OwnerKeys(ctx, "u1"); err != nil || len(keys) != 0 {
		t.Errorf("OwnerKeys with only corrupt files: %v, %v", keys, err)
	}
	if err := s.List(ctx, func(k string, _ httpsession.Record) bool {
		t.Errorf("List passed corrupt %s", k)
		return true
	}); err != nil {
		t.Fatal(err)
	}

	// The sweeper reads headers only: the file with a bad data checksum
	// goes when its header says it expires.
	n, err := s.DeleteExpired(ctx, 0)
	if err != nil || n != len(cases)-1 {
		t.Errorf("DeleteExpired = %d, %v; want %d (the corrupt headers), nil", n, err, len(cases)-1)
	}
	mu.Lock()
	now = exp.Add(time.Second)
	mu.Unlock()
	if n, err := s.DeleteExpired(ctx, 0); err != nil || n != 1 {
		t.Errorf("DeleteExpired past the header's expiry = %d, %v; want 1, nil", n, err)
	}
	for _, k := range corrupt {
		if _, err := os.Lstat(recordPath(s, k)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("corrupt file %.8s… still there: %v", k, err)
		}
	}
	if _, err := os.Lstat(recordPath(s, futureKey)); err != nil {
		t.Errorf("the sweeper removed a file of a newer format: %v", err)
	}

	// A create replaces a corrupt file.
	k := key(200)
	if err := os.WriteFile(recordPath(s, k), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, k, httpsession.Record{Data: []byte("fresh"), Expires: exp.Add(time.Hour)})
	if rec, err := s.Get(ctx, k); err != nil || string(rec.Data) != "fresh" {
		t.Errorf("Get after replacing a corrupt file: %q, %v", rec.Data, err)
	}
}

func TestStaleTempFilesRemoved(t *testing.T) {
	s := newStore(t, Options{})
	dir := s.dir.f.Name()
	stale := filepath.Join(dir, tmpPrefix+"stale")
	fresh := filepath.Join(dir, tmpPrefix+"fresh")
	for _, p := range []string{stale, fresh} {
		if err := os.WriteFile(p, []byte("half a record"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * staleTemp)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "README")
	if err := os.WriteFile(foreign, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := s.DeleteExpired(context.Background(), 0)
	if err != nil || n != 0 {
		t.Errorf("DeleteExpired = %d, %v; want 0 records, nil", n, err)
	}
	if _, err := os.Lstat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale temporary file still there: %v", err)
	}
	for _, p := range []string{fresh, foreign} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
}

func TestDeleteExpiredWithClock(t *testing.T) {
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newStore(t, Options{Now: clock})
	ctx := context.Background()
	for i := range 10 {
		mustPut(t, s, key(i), httpsession.Record{Data: []byte("x"), Owner: "u", Expires: now.Add(time.Duration(i+1) * time.Minute)})
	}
	mu.Lock()
	now = now.Add(5*time.Minute + time.Second)
	mu.Unlock()
	if keys, _ := s.OwnerKeys(ctx, "u"); len(keys) != 5 {
		t.Errorf("OwnerKeys after 5 expired: %d keys, want 5", len(keys))
	}
	total := 0
	for {
		n, err := s.DeleteExpired(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n > 2 {
			t.Fatalf("DeleteExpired(2) removed %d", n)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != 5 {
		t.Errorf("removed %d in all, want 5", total)
	}
}

func TestLongOwner(t *testing.T) {
	s := newStore(t, Options{})
	ctx := context.Background()
	owner := strings.Repeat("o", MaxOwnerSize) // longer than one header read
	k := key(1)
	mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Owner: owner, Expires: time.Now().Add(time.Hour)})
	if keys, err := s.OwnerKeys(ctx, owner); err != nil || len(keys) != 1 {
		t.Errorf("OwnerKeys(long owner) = %v, %v", keys, err)
	}
	_, err := s.Put(ctx, key(2), httpsession.Record{Data: []byte("x"), Owner: owner + "o", Expires: time.Now().Add(time.Hour)})
	if !errors.Is(err, httpsession.ErrTooLarge) {
		t.Errorf("Put with an owner over MaxOwnerSize: %v, want ErrTooLarge", err)
	}
}

func TestLockHonoursContext(t *testing.T) {
	s := newStore(t, Options{})
	k := key(3)
	// A second store on the same directory stands for another process:
	// its flock is on its own open file, so it excludes this one.
	other, err := New(s.dir.f.Name(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	unlock, err := other.lock(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = s.Put(ctx, k, httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Put while another holds the lock: %v, want context.DeadlineExceeded", err)
	}
	unlock()
	mustPut(t, s, k, httpsession.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
}

func TestTwoStoresOneDirectory(t *testing.T) {
	a := newStore(t, Options{})
	b, err := New(a.dir.f.Name(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	k := key(4)
	exp := time.Now().Add(time.Hour)
	mustPut(t, a, k, httpsession.Record{Data: []byte("0"), Expires: exp})

	// Increment a counter from both stores: every increment must count.
	const perStore = 50
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b} {
		wg.Go(func() {
			for done := 0; done < perStore; {
				rec, err := s.Get(ctx, k)
				if err != nil {
					t.Error(err)
					return
				}
				var n int
				fmt.Sscan(string(rec.Data), &n)
				_, err = s.Put(ctx, k, httpsession.Record{Data: fmt.Append(nil, n+1), Expires: exp, Version: rec.Version})
				if errors.Is(err, httpsession.ErrConflict) {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				done++
			}
		})
	}
	wg.Wait()
	if rec, _ := a.Get(ctx, k); string(rec.Data) != fmt.Sprint(2*perStore) {
		t.Errorf("counter = %s, want %d", rec.Data, 2*perStore)
	}
}

func TestClosed(t *testing.T) {
	s := newStore(t, Options{})
	s.Close()
	if _, err := s.Get(context.Background(), key(1)); !errors.Is(err, errClosed) {
		t.Errorf("Get after Close: %v, want errClosed", err)
	}
	if _, err := s.Put(context.Background(), key(1), httpsession.Record{Expires: time.Now().Add(time.Hour)}); err == nil {
		t.Error("Put after Close succeeded")
	}
}
