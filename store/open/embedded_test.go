package open

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/memstore"
)

func TestMemBoundsFromURL(t *testing.T) {
	s, closeFn, err := Open(t.Context(), "mem:?max_entries=2&max_bytes=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	ms := s.(*memstore.Store)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	for i, k := range []string{"a", "b", "c"} {
		if _, err := ms.Put(ctx, strings.Repeat(k, 64), httpsession.Record{Data: []byte("x"), Expires: exp}); err != nil {
			t.Fatalf("Put %d: %v", i, err)
		}
	}
	if n := ms.Len(); n != 2 {
		t.Errorf("max_entries=2 store holds %d records", n)
	}
	_, err = ms.Put(ctx, strings.Repeat("d", 64), httpsession.Record{Data: make([]byte, 1000), Expires: exp})
	if !errors.Is(err, httpsession.ErrTooLarge) {
		t.Errorf("a 1,064-byte record in a max_bytes=1000 store: %v, want ErrTooLarge", err)
	}
}

func TestMemURLErrors(t *testing.T) {
	for url, want := range map[string]string{
		"mem:/tmp/x":                       "takes no path",
		"mem:?max_entries=0":               "above 0",
		"mem:?max_entries=-3":              "above 0",
		"mem:?max_bytes=lots":              "above 0",
		"mem:?max_entries=5&max_entries=6": "given 2 times",
		"mem:?maxentries=5":                `unknown parameter "maxentries"`,
		"mem:?max_entries=99999999999":     "at most",
		"memory:?max_entries=1&cleanup=1m": "unknown parameter",
		"mem:?max_entries=%zz":             "invalid URL escape",
	} {
		s, closeFn, err := Open(t.Context(), url)
		if err == nil {
			closeFn()
			t.Errorf("Open(%q) = %T, want an error containing %q", url, s, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%q): %v, want an error containing %q", url, err, want)
		}
	}
}
