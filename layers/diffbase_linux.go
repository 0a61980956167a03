package layers

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"

	"golang.org/x/sys/unix"
)

// sameAsLower reports whether the upper entry at up is what overlay copied
// up from rel in the view lower without changing it.
//
// rel is looked up in lower without following any symlink on the way: the
// step may have put a directory where the layers below have a symlink
// ("/lib" -> "/usr/lib"), and following it would compare with, and so
// reveal, a file of the host.
func sameAsLower(up, lower, rel string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Lstat(up, &a); err != nil {
		return false, err
	}
	low, ok, err := openLowerParent(lower, rel)
	if err != nil || !ok {
		return false, err
	}
	defer unix.Close(low.dirfd)
	if err := unix.Fstatat(low.dirfd, low.base, &b, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return false, nil
		}
		return false, err
	}
	if a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid || a.Rdev != b.Rdev {
		return false, nil
	}
	if !bytes.Equal(capability(up), capability(low.path())) {
		return false, nil
	}
	if a.Mode&unix.S_IFMT == unix.S_IFDIR {
		return true, nil
	}
	if a.Size != b.Size || a.Mtim.Sec != b.Mtim.Sec {
		return false, nil
	}
	if a.Mtim.Nsec != 0 || b.Mtim.Nsec != 0 {
		return a.Mtim.Nsec == b.Mtim.Nsec, nil
	}
	switch a.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		t1, err1 := os.Readlink(up)
		t2, err2 := low.readlink()
		return err1 == nil && err2 == nil && t1 == t2, nil
	case unix.S_IFREG:
		if a.Size == 0 {
			return true, nil
		}
		f2, err := low.open()
		if err != nil {
			return false, nil
		}
		defer f2.Close()
		return sameContent(up, f2)
	}
	return true, nil
}

func capability(p string) []byte {
	buf := make([]byte, 128)
	n, err := unix.Lgetxattr(p, "security.capability", buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

// lowerEntry is an entry of the lower view, by its directory and name.
type lowerEntry struct {
	dirfd int
	base  string
}

// openLowerParent opens the directory of rel in lower, refusing symlinks
// and "..": ok is false when rel cannot be reached that way.
func openLowerParent(lower, rel string) (lowerEntry, bool, error) {
	dir, base := path.Split(path.Clean("/" + rel))
	if base == "" {
		return lowerEntry{}, false, nil
	}
	root, err := unix.Open(lower, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return lowerEntry{}, false, err
	}
	defer unix.Close(root)
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(root, path.Clean("."+dir), &how)
	if err != nil {
		return lowerEntry{}, false, nil // missing, not a directory or a symlink
	}
	return lowerEntry{dirfd: fd, base: base}, true, nil
}

// path names the entry through /proc, for calls that have no *at form.
func (e lowerEntry) path() string { return fmt.Sprintf("/proc/self/fd/%d/%s", e.dirfd, e.base) }

func (e lowerEntry) readlink() (string, error) {
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlinkat(e.dirfd, e.base, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}

// open opens the entry for reading; it fails on a symlink.
func (e lowerEntry) open() (*os.File, error) {
	fd, err := unix.Openat(e.dirfd, e.base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), e.base), nil
}

// sameContent compares the regular file at p1 with f2 byte by byte.
func sameContent(p1 string, f2 *os.File) (bool, error) {
	f1, err := os.Open(p1)
	if err != nil {
		return false, err
	}
	defer f1.Close()
	b1 := make([]byte, 32<<10)
	b2 := make([]byte, 32<<10)
	for {
		n1, err1 := io.ReadFull(f1, b1)
		n2, err2 := io.ReadFull(f2, b2)
		if n1 != n2 || !bytes.Equal(b1[:n1], b2[:n2]) {
			return false, nil
		}
		if err1 == io.EOF || err1 == io.ErrUnexpectedEOF {
			return err2 == io.EOF || err2 == io.ErrUnexpectedEOF, nil
		}
		if err1 != nil {
			return false, err1
		}
		if err2 != nil {
			return false, err2
		}
	}
}
