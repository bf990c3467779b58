//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris)

package filestore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// dir is not implemented here: the store needs openat, O_NOFOLLOW and
// flock.
type dir struct{}

var (
	errSymlink     = errors.New("filestore: record name is a symbolic link; not followed")
	errNotRegular  = errors.New("filestore: record name is not a regular file")
	errUnsupported = fmt.Errorf("filestore: not supported on %s", runtime.GOOS)
)

func openDir(string) (*dir, error)                                    { return nil, errUnsupported }
func (*dir) close() error                                             { return errUnsupported }
func (*dir) sync() error                                              { return errUnsupported }
func (*dir) read(string, int) ([]byte, int64, error)                  { return nil, 0, errUnsupported }
func (*dir) write(string, ...[]byte) error                            { return errUnsupported }
func (*dir) remove(string) error                                      { return errUnsupported }
func (*dir) modTime(string) (time.Time, bool, error)                  { return time.Time{}, false, errUnsupported }
func (*dir) scan(context.Context, func([]string) (bool, error)) error { return errUnsupported }
func (*dir) lock(context.Context, string) (func(), error)             { return nil, errUnsupported }
