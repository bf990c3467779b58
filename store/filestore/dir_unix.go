//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd || solaris

package filestore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dir is the session directory, held open. Every file operation is relative
// to its descriptor (openat, renameat, unlinkat) with a single validated
// name and O_NOFOLLOW, so no path is ever built from a key and a symbolic
// link is never followed, even if the directory is renamed while open.
type dir struct {
	f    *os.File
	conn syscall.RawConn
}

// errSymlink and errNotRegular report something other than a regular file at
// a record's name.
var (
	errSymlink    = errors.New("filestore: record name is a symbolic link; not followed")
	errNotRegular = errors.New("filestore: record name is not a regular file")
)

// openDir opens path, creating it 0700 if missing, and refuses a symbolic
// link or a directory that its group or others can access.
func openDir(path string) (*dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("filestore: %w", err)
	}
	fd, err := openRetry(func() (int, error) {
		return unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		if isSymlink(unix.AT_FDCWD, path) {
			return nil, fmt.Errorf("filestore: %s is a symbolic link; pass the directory it points to", path)
		}
		return nil, fmt.Errorf("filestore: open %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("filestore: stat %s: %w", path, err)
	}
	if perm := st.Mode & 0o777; perm&0o077 != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("filestore: %s has mode %#o; want 0700 (no group or other access)", path, perm)
	}
	if euid := os.Geteuid(); st.Uid != uint32(euid) {
		unix.Close(fd)
		return nil, fmt.Errorf("filestore: %s is owned by uid %d, not by this process's uid %d: "+
			"whoever owns it can read, forge and rename sessions; "+
			"remove it and let the store create it, or chown it to uid %d", path, st.Uid, euid, euid)
	}
	if err := checkAncestors(fd, path); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	conn, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("filestore: %w", err)
	}
	return &dir{f: f, conn: conn}, nil
}

// checkAncestors refuses a directory any of whose ancestors every user may
// write without the sticky bit: in such a parent anyone can rename the
// session directory away and put another in its place before the next
// start. It walks ".." from the open descriptor, so it checks the
// directories that hold the one opened, whatever the path says.
func checkAncestors(fd int, path string) error {
	names := ancestorNames(path)
	var cur unix.Stat_t
	if err := unix.Fstat(fd, &cur); err != nil {
		return fmt.Errorf("filestore: stat %s: %w", path, err)
	}
	dirfd := fd
	defer func() {
		if dirfd != fd {
			unix.Close(dirfd)
		}
	}()
	for depth := 0; ; depth++ {
		up, err := openRetry(func() (int, error) {
			return unix.Openat(dirfd, "..", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
		if err != nil {
			return fmt.Errorf("filestore: open a parent of %s: %w", path, err)
		}
		if dirfd != fd {
			unix.Close(dirfd)
		}
		dirfd = up
		var st unix.Stat_t
		if err := unix.Fstat(dirfd, &st); err != nil {
			return fmt.Errorf("filestore: stat a parent of %s: %w", path, err)
		}
		if st.Dev == cur.Dev && st.Ino == cur.Ino {
			return nil // "/" is its own parent
		}
		if st.Mode&0o002 != 0 && st.Mode&unix.S_ISVTX == 0 {
			name := fmt.Sprintf("the directory %d levels above it", depth+1)
			if depth < len(names) {
				name = names[depth]
			}
			return fmt.Errorf("filestore: %s, which holds %s, is writable by every user and has no sticky bit: "+
				"any local user could replace the session directory; "+
				"put the sessions under a directory only its owner can write, or set the sticky bit (chmod +t %s)",
				name, path, name)
		}
		cur = st
	}
}

// ancestorNames returns the directories above path, nearest first, for
// error messages.
func ancestorNames(path string) []string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	var names []string
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		names = append(names, d)
		if d == filepath.Dir(d) {
			return names
		}
	}
}

// at runs fn with the directory's descriptor, which stays valid while fn
// runs even if Close is called meanwhile.
func (d *dir) at(fn func(dirfd int) error) error {
	var ferr error
	if err := d.conn.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return errClosed
	}
	return ferr
}

func (d *dir) close() error { return d.f.Close() }

// sync makes renames and removals in the directory durable.
func (d *dir) sync() error { return d.f.Sync() }

// read returns up to max bytes from the start of the named file (all of it
// if max < 0) and the file's size. A missing file is os.ErrNotExist.
func (d *dir) read(name string, max int) ([]byte, int64, error) {
	var fd int
	err := d.at(func(dirfd int) (err error) {
		// O_NONBLOCK: opening a FIFO planted under a record's name must
		// not hang. It has no effect on regular files.
		fd, err = openRetry(func() (int, error) {
			return unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		})
		if err != nil && err != unix.ENOENT && isSymlink(dirfd, name) {
			return errSymlink
		}
		return err
	})
	if err == unix.ENOENT {
		return nil, 0, os.ErrNotExist
	}
	if err != nil {
		return nil, 0, err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, 0, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, 0, errNotRegular
	}
	n := st.Size
	if max >= 0 && int64(max) < n {
		n = int64(max)
	}
	buf := make([]byte, n)
	got := 0
	for got < len(buf) {
		m, err := unix.Pread(fd, buf[got:], int64(got))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		if m == 0 {
			break // shorter than its size said: decode reports it
		}
		got += m
	}
	return buf[:got], st.Size, nil
}

// write stores the chunks as the named file, atomically: they go to a new
// temporary file that is synced and renamed over the name, then the
// directory is synced. A reader sees the old file or the new one, whole.
func (d *dir) write(name string, chunks ...[]byte) error {
	tmp, f, err := d.createTemp()
	if err != nil {
		return err
	}
	err = writeSync(f, chunks)
	if err == nil {
		err = d.at(func(dirfd int) error { return unix.Renameat(dirfd, tmp, dirfd, name) })
	}
	if err != nil {
		d.at(func(dirfd int) error { return unix.Unlinkat(dirfd, tmp, 0) })
		return err
	}
	return d.sync()
}

func writeSync(f *os.File, chunks [][]byte) error {
	for _, c := range chunks {
		if _, err := f.Write(c); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// createTemp creates a new, empty file named tmpPrefix plus random hex,
// mode 0600 whatever the umask.
func (d *dir) createTemp() (string, *os.File, error) {
	for range 100 {
		var b [8]byte
		for i := range b {
			b[i] = byte(rand.Uint32())
		}
		name := tmpPrefix + hex.EncodeToString(b[:])
		var fd int
		err := d.at(func(dirfd int) (err error) {
			fd, err = openRetry(func() (int, error) {
				return unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
			})
			return err
		})
		if err == unix.EEXIST {
			continue
		}
		if err != nil {
			return "", nil, err
		}
		if err := unix.Fchmod(fd, 0o600); err != nil {
			unix.Close(fd)
			return "", nil, err
		}
		return name, os.NewFile(uintptr(fd), name), nil
	}
	return "", nil, errors.New("filestore: cannot create a temporary file")
}

// remove deletes the named entry; a missing one is not an error. It does
// not sync the directory.
func (d *dir) remove(name string) error {
	err := d.at(func(dirfd int) error { return unix.Unlinkat(dirfd, name, 0) })
	if err == unix.ENOENT {
		return nil
	}
	return err
}

// modTime returns the modification time of the named entry, not following
// a symbolic link, and whether it is a regular file.
func (d *dir) modTime(name string) (time.Time, bool, error) {
	var st unix.Stat_t
	err := d.at(func(dirfd int) error {
		return unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		return time.Time{}, false, err
	}
	sec, nsec := st.Mtim.Unix()
	return time.Unix(sec, nsec), st.Mode&unix.S_IFMT == unix.S_IFREG, nil
}

// scan calls fn with the names in the directory, in batches, until fn
// returns false or an error.
func (d *dir) scan(ctx context.Context, fn func(names []string) (bool, error)) error {
	var fd int
	err := d.at(func(dirfd int) (err error) {
		fd, err = openRetry(func() (int, error) {
			return unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		})
		return err
	})
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), ".")
	defer f.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		names, err := f.Readdirnames(512)
		if len(names) > 0 {
			more, ferr := fn(names)
			if ferr != nil || !more {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// lock takes the exclusive flock on the named lock file, creating it, and
// returns the function that releases it. It polls so that ctx can cancel
// the wait.
func (d *dir) lock(ctx context.Context, name string) (func(), error) {
	var fd int
	err := d.at(func(dirfd int) (err error) {
		fd, err = openRetry(func() (int, error) {
			return unix.Openat(dirfd, name, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	wait := 100 * time.Microsecond
	for {
		err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { unix.Close(fd) }, nil // closing releases the lock
		}
		if err != unix.EWOULDBLOCK && err != unix.EINTR {
			unix.Close(fd)
			return nil, err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			unix.Close(fd)
			return nil, ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 20*time.Millisecond)
	}
}

func isSymlink(dirfd int, name string) bool {
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK
}

func openRetry(open func() (int, error)) (int, error) {
	for {
		fd, err := open()
		if err != unix.EINTR {
			return fd, err
		}
	}
}
