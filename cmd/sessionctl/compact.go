package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/httpsession/httpsession/store/boltstore"
)

// compact rewrites a bbolt file into a compact copy. It runs on the file
// alone, not through a Store: bbolt allows one process per file, so the
// application must be stopped, and boltstore.Compact says so if it is not.
func compact(ctx context.Context, opts options, stdout io.Writer) error {
	scheme, path, _ := strings.Cut(opts.store, ":")
	switch strings.ToLower(scheme) {
	case "bolt", "bbolt":
	default:
		return &cliError{exitUnsupported, fmt.Sprintf(
			"compact: only bolt: stores are compacted here, not %s: (SQLite: stop the application and run VACUUM; other stores reclaim space themselves)", strings.ToLower(scheme))}
	}
	if err := checkExists(opts.store); err != nil {
		return err
	}
	res, err := boltstore.Compact(ctx, path)
	if err != nil {
		return err
	}
	if opts.json {
		return writeJSONLine(stdout, map[string]any{"path": path, "before": res.Before, "after": res.After})
	}
	_, err = fmt.Fprintf(stdout, "compacted %s: %s -> %s\n", path, size(res.Before), size(res.After))
	return err
}

// size formats a byte count for people: 427.0 MB.
func size(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	f, prefix := float64(n)/unit, "kMGTPE"
	i := 0
	for f >= unit && i < len(prefix)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%.1f %cB", f, prefix[i])
}
