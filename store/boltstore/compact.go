package boltstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// CompactResult reports what Compact did.
type CompactResult struct {
	// Before and After are the file's sizes in bytes.
	Before, After int64
}

// compactTxSize bounds the bytes one transaction of the copy writes, so
// that a large database is not copied in one transaction held in memory.
const compactTxSize = 16 << 20

// Compact rewrites the bbolt database at path into a new file with
// bbolt's own compaction (bolt.Compact: every bucket, key and sequence
// copied into full pages) and puts the copy in its place. bbolt never
// shrinks a file; pages freed by deleted sessions are only reused, so a
// file that once held many more sessions than it does now keeps its size
// until it is compacted.
//
// No process may have the database open: Compact takes bbolt's exclusive
// lock, waits at most DefaultTimeout for it, and fails if it is held
// (stop the program that uses the file first). The copy is written beside
// the file, synced, given the file's mode and owner, and renamed over it,
// so an error or a crash at any point leaves the original file as it was
// (a crash may leave the copy, a file named .NAME.compact-* beside it,
// which can be deleted). bbolt's copy cannot be stopped half-way: ctx is
// checked before it starts and before the rename, and if it has ended
// then, the copy is removed and the original kept. The copy needs free
// space about the size of the live data.
func Compact(ctx context.Context, path string) (CompactResult, error) {
	var res CompactResult
	fi, err := os.Lstat(path)
	if err != nil {
		return res, fmt.Errorf("boltstore: compact: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return res, fmt.Errorf("boltstore: compact: %s is not a regular file", path)
	}
	res.Before = fi.Size()
	src, err := bolt.Open(path, 0, boltOptions(DefaultTimeout, false))
	if errors.Is(err, bolterrors.ErrTimeout) {
		return res, fmt.Errorf("boltstore: compact: %s is in use by another process (waited %v for its lock): stop the program that uses it, then compact", path, DefaultTimeout)
	}
	if err != nil {
		return res, fmt.Errorf("boltstore: compact: open %s: %w", path, err)
	}
	defer src.Close() // after the rename: nobody opens the old file meanwhile

	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".compact-*")
	if err != nil {
		return res, fmt.Errorf("boltstore: compact: %w", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmpPath)
		}
	}()

	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("boltstore: compact: %w (the original file is unchanged)", err)
	}
	if err := copyDB(tmpPath, src, fi); err != nil {
		return res, fmt.Errorf("boltstore: compact %s: %w (the original file is unchanged)", path, err)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("boltstore: compact: %w (the copy is discarded; the original file is unchanged)", err)
	}
	if err := os.Rename(tmpPath, path); err != nil {
		return res, fmt.Errorf("boltstore: compact: %w", err)
	}
	renamed = true
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return res, fmt.Errorf("boltstore: compact: sync directory: %w", err)
		}
	}
	if fi, err := os.Stat(path); err == nil {
		res.After = fi.Size()
	}
	return res, nil
}

// copyDB compacts src into a new database at path, synced, with the mode
// and owner of like.
func copyDB(path string, src *bolt.DB, like os.FileInfo) error {
	dst, err := bolt.Open(path, like.Mode().Perm(), boltOptions(DefaultTimeout, false))
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, src, compactTxSize); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	if err := os.Chmod(path, like.Mode().Perm()); err != nil {
		return err
	}
	if uid, gid, ok := fileOwner(like); ok && (uid != os.Geteuid() || gid != os.Getegid()) {
		if err := os.Chown(path, uid, gid); err != nil {
			return fmt.Errorf("give the copy the original's owner: %w", err)
		}
	}
	return nil
}
