package layers

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// rootDir is an open directory that every path is resolved in. All
// operations take a directory fd opened through it plus a single final
// name component, so no path string ever leaves the root.
type rootDir struct {
	fd int // O_PATH descriptor of the root
}

func openRootDir(dir string) (*rootDir, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	r := &rootDir{fd: fd}
	probe, err := r.resolve(".", false)
	if err != nil {
		r.close()
		if errors.Is(err, unix.ENOSYS) {
			return nil, errors.New("safe extraction needs openat2 (Linux 5.6 or later)")
		}
		return nil, &os.PathError{Op: "openat2", Path: dir, Err: err}
	}
	unix.Close(probe)
	return r, nil
}

func (r *rootDir) close() { unix.Close(r.fd) }

// resolve opens the directory rel (relative, cleaned) as an O_PATH fd,
// following symlinks as if the root were "/" so that none can lead out.
// With noSymlinks any symlink on the way is an error instead.
func (r *rootDir) resolve(rel string, noSymlinks bool) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	if noSymlinks {
		how.Resolve |= unix.RESOLVE_NO_SYMLINKS
	}
	for range 16 {
		fd, err := unix.Openat2(r.fd, rel, &how)
		if err == unix.EAGAIN || err == unix.EINTR {
			continue // a concurrent rename; RESOLVE_IN_ROOT asks to retry
		}
		return fd, err
	}
	return -1, unix.EAGAIN
}

// mkdirAll opens the directory rel, creating missing components with mode
// 0755 (owned by the extracting user, as Docker creates implied parents).
// Each component is resolved inside the root before the next is created.
func (r *rootDir) mkdirAll(rel string) (int, error) {
	fd, err := r.resolve(rel, false)
	if err != unix.ENOENT && err != unix.ENOTDIR {
		return fd, err
	}
	cur := "."
	for _, part := range strings.Split(rel, "/") {
		next := path.Join(cur, part)
		fd, err := r.resolve(next, false)
		if err == unix.ENOENT || err == unix.ENOTDIR {
			fd, err = r.mkdirIn(cur, part)
		}
		if err != nil {
			return -1, err
		}
		if next == rel {
			return fd, nil
		}
		unix.Close(fd)
		cur = next
	}
	return -1, unix.ENOENT // not reached: rel is clean and not "."
}

// mkdirIn creates the directory name in the directory dir and opens it.
// A whiteout in its way becomes an opaque directory: the layer deletes
// what the layers below have there and puts a new directory in its place.
func (r *rootDir) mkdirIn(dir, name string) (int, error) {
	pfd, err := r.resolve(dir, false)
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd)
	st, exists, err := lstatAt(pfd, name)
	if err != nil {
		return -1, err
	}
	full := path.Join(dir, name)
	wasWhiteout := exists && isWhiteout(&st)
	switch {
	case wasWhiteout:
		err = unix.Unlinkat(pfd, name, 0)
	case exists && st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return -1, fmt.Errorf("parent %s is a symlink that leads to no directory", full)
	case exists:
		return -1, fmt.Errorf("parent %s is not a directory", full)
	}
	if err == nil {
		err = unix.Mkdirat(pfd, name, 0o755)
	}
	if err == nil && wasWhiteout {
		err = setXattrAt(pfd, name, OpaqueXattr, "y")
	}
	if err != nil {
		return -1, err
	}
	return r.resolve(full, false)
}

// isWhiteout reports a 0/0 character device, overlay's whiteout.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// parent opens the directory holding rel (creating it when create is set)
// and returns it with rel's last component.
func (r *rootDir) parent(rel string, create bool) (int, string, error) {
	dir, base := path.Split(rel)
	dir = cleanDir(dir)
	var fd int
	var err error
	if create {
		fd, err = r.mkdirAll(dir)
	} else {
		fd, err = r.resolve(dir, false)
	}
	if err != nil {
		return -1, "", fmt.Errorf("opening parent %s: %w", dir, err)
	}
	return fd, base, nil
}

// removeAt removes name in the directory dfd, with everything below it when
// it is a directory. Symlinks are removed, never followed.
func removeAt(dfd int, name string) error {
	err := unix.Unlinkat(dfd, name, 0)
	if err != unix.EISDIR && err != unix.EPERM {
		return err
	}
	fd, err := unix.Openat(dfd, name,
		unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	names, err := f.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			if err = removeAt(fd, n); err != nil {
				break
			}
		}
	}
	f.Close()
	if err != nil {
		return err
	}
	return unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR)
}

// lstatAt is fstatat without following a final symlink; ok is false when
// the name does not exist.
func lstatAt(dfd int, name string) (st unix.Stat_t, ok bool, err error) {
	err = unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	if err == unix.ENOENT {
		return st, false, nil
	}
	return st, err == nil, err
}

// setXattrAt sets an xattr on name in dfd without following name, through
// the fd's /proc entry: there is no lsetxattrat before Linux 6.13.
//
// TODO: this needs /proc; use setxattrat once x/sys/unix has it.
func setXattrAt(dfd int, name, attr, value string) error {
	p := fmt.Sprintf("/proc/self/fd/%d/%s", dfd, name)
	return unix.Lsetxattr(p, attr, []byte(value), 0)
}

// chmodAt changes the mode of name in dfd, which the caller created and
// knows not to be a symlink.
func chmodAt(dfd int, name string, mode uint32) error {
	err := unix.Fchmodat(dfd, name, mode, unix.AT_SYMLINK_NOFOLLOW)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		err = unix.Fchmodat(dfd, name, mode, 0) // kernels before fchmodat2 (6.6)
	}
	return err
}

func setTimesAt(dfd int, name string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	return unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}
