package open

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"

	"github.com/httpsession/httpsession"
	"github.com/httpsession/httpsession/store/boltstore"
	"github.com/httpsession/httpsession/store/filestore"
	"github.com/httpsession/httpsession/store/memstore"
)

// openEmbedded opens the stores that need no server: mem:, file:, bolt:.
func openEmbedded(scheme, rest string) (httpsession.Store, func() error, error) {
	switch scheme {
	case "mem", "memory":
		opts, err := memOptions(rest)
		if err != nil {
			return nil, nil, err
		}
		s := memstore.New(opts)
		return s, s.Close, nil
	case "file":
		if rest == "" {
			return nil, nil, fmt.Errorf("file: needs a directory, as in file:/var/lib/sessions")
		}
		s, err := filestore.New(rest, filestore.Options{})
		if err != nil {
			return nil, nil, err
		}
		return s, nopClose, nil
	case "bolt", "bbolt":
		if rest == "" {
			return nil, nil, fmt.Errorf("bolt: needs a file path, as in bolt:sessions.db")
		}
		s, err := boltstore.Open(rest, boltstore.Options{})
		if err != nil {
			return nil, nil, err
		}
		return s, s.Close, nil
	}
	return nil, nil, fmt.Errorf("unknown scheme %q", scheme)
}

// memOptions parses what follows "mem:": nothing, or a query of the
// store's bounds, as in mem:?max_entries=10000&max_bytes=67108864.
func memOptions(rest string) (memstore.Options, error) {
	var opts memstore.Options
	if rest == "" {
		return opts, nil
	}
	query, ok := strings.CutPrefix(rest, "?")
	if !ok {
		return opts, fmt.Errorf("mem: takes no path, only ?max_entries=N&max_bytes=B")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return opts, fmt.Errorf("mem: %w", err)
	}
	for name, vals := range q {
		if name != "max_entries" && name != "max_bytes" {
			return opts, fmt.Errorf("mem: unknown parameter %q (want max_entries, max_bytes)", name)
		}
		if len(vals) != 1 {
			return opts, fmt.Errorf("mem: %s given %d times", name, len(vals))
		}
		n, err := strconv.ParseInt(vals[0], 10, 64)
		if err != nil || n <= 0 {
			return opts, fmt.Errorf("mem: %s=%q: want a whole number above 0", name, vals[0])
		}
		switch name {
		case "max_entries":
			if n > math.MaxInt32 {
				return opts, fmt.Errorf("mem: max_entries=%d: at most %d", n, math.MaxInt32)
			}
			opts.MaxEntries = int(n)
		case "max_bytes":
			opts.MaxBytes = n
		}
	}
	return opts, nil
}
