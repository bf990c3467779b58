package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
)

// TestCompact: after most sessions of a bolt file are gone, compact
// shrinks the file and the sessions left read as before.
func TestCompact(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	url := "bolt:" + path
	keys := seed(t, url, false)

	// Pad the file with 3,000 sessions of 4 KB, then delete them.
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := make([]byte, 4096)
	padKey := func(i int) string { return httpsession.StoreKey(fmt.Sprintf("pad-%d-%s", i, strings.Repeat("x", 40))) }
	for _, del := range []bool{false, true} {
		errs := make(chan error, 8)
		for w := range 8 {
			go func() {
				for i := w; i < 3000; i += 8 {
					var err error
					if del {
						err = s.Delete(ctx, padKey(i))
					} else {
						_, err = s.Put(ctx, padKey(i), httpsession.Record{Data: data, Expires: time.Now().Add(time.Hour)})
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range 8 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Close()
	before := fileSize(t, path)

	r := want(t, exitOK, url, "compact", "-json")
	var res struct {
		Path          string
		Before, After int64
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("compact -json: %q: %v", r.stdout, err)
	}
	after := fileSize(t, path)
	if res.Path != path || res.Before != before || res.After != after || after >= before/4 {
		t.Fatalf("compact reported %+v; file went from %d to %d bytes, want under a quarter", res, before, after)
	}
	r = want(t, exitOK, url, "show", keys.ann1)
	if !strings.Contains(r.stdout, `"ann"`) {
		t.Errorf("show after compact:\n%s", r.stdout)
	}
	if r := want(t, exitOK, url, "stats", "-json"); !strings.Contains(r.stdout, `"sessions":4`) {
		t.Errorf("stats after compact: %s", r.stdout)
	}
	r = want(t, exitOK, url, "compact")
	if !strings.HasPrefix(r.stdout, "compacted "+path+": ") || !strings.Contains(r.stdout, "kB -> ") {
		t.Errorf("compact: %q", r.stdout)
	}
}

func TestCompactRefuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	seed(t, "bolt:"+path, false)
	s, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := fileSize(t, path)
	r := want(t, exitError, "bolt:"+path, "compact")
	s.Close()
	if !strings.Contains(r.stderr, "in use") || fileSize(t, path) != before {
		t.Errorf("compact of a file in use: %q, size %d -> %d", r.stderr, before, fileSize(t, path))
	}
	want(t, exitUnsupported, "redis://127.0.0.1:1/0", "compact")
	r = want(t, exitUnsupported, "sqlite:"+path, "compact")
	if !strings.Contains(r.stderr, "VACUUM") {
		t.Errorf("compact of sqlite: %q, want the VACUUM advice", r.stderr)
	}
	want(t, exitError, "bolt:"+filepath.Join(t.TempDir(), "missing.db"), "compact")
	want(t, exitUsage, "bolt:"+path, "compact", "extra")
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
