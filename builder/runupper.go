package builder

import (
	"errors"
	"fmt"
	"path"

	"golang.org/x/sys/unix"
)

// The upper dir of a finished RUN step is the step's work: it may have
// replaced any directory by a symlink, to "/etc" or "../../..", say. What
// ibuild does there after the step (remove the mount points the sandbox
// made, prune the directories overlay copied up for them) must therefore
// never follow a symlink, or a step could make ibuild delete host files.
// Nothing runs in the upper dir any more at that point (the step's PID
// namespace is gone), so checking and acting are not raced.

// upperEntry is one path below an upper dir, opened safely: the directory
// holding it and its last component.
type upperEntry struct {
	dirfd int
	base  string
}

// openUpper opens the parent of rel (slash-separated, below upper, or
// below a read-only view of the layers) without following any symlink and
// without leaving upper. ok is false when a component is missing or is not
// a directory: then rel is not there.
func openUpper(upper, rel string) (e upperEntry, ok bool, err error) {
	dir, base := path.Split(path.Clean("/" + rel))
	if base == "" {
		return upperEntry{}, false, nil // rel is upper itself
	}
	dir = path.Clean("." + dir)
	ufd, err := unix.Open(upper, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return upperEntry{}, false, fmt.Errorf("opening %s: %w", upper, err)
	}
	defer unix.Close(ufd)
	how := unix.OpenHow{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(ufd, dir, &how)
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP),
		errors.Is(err, unix.EXDEV):
		return upperEntry{}, false, nil
	case err != nil:
		return upperEntry{}, false, fmt.Errorf("opening %s in %s: %w", dir, upper, err)
	}
	return upperEntry{dirfd: fd, base: base}, true, nil
}

func (e upperEntry) close() { unix.Close(e.dirfd) }

// lstat describes the entry itself (a symlink is not followed).
func (e upperEntry) lstat() (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(e.dirfd, e.base, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// opaque reports whether the entry carries overlay's opaque mark.
func (e upperEntry) opaque() bool {
	v, _ := getxattr(fmt.Sprintf("/proc/self/fd/%d/%s", e.dirfd, e.base), "user.overlay.opaque")
	return v == "y"
}

// remove removes the entry: a file, a symlink, a device or an empty
// directory. A missing entry is no error; a directory that is not empty
// gives ENOTEMPTY.
func (e upperEntry) remove() error {
	st, err := e.lstat()
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	flags := 0
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		flags = unix.AT_REMOVEDIR
	}
	err = unix.Unlinkat(e.dirfd, e.base, flags)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

// removeInUpper removes rel below upper as upperEntry.remove does, and does
// nothing when a parent of rel is not a real directory of upper.
func removeInUpper(upper, rel string) error {
	e, ok, err := openUpper(upper, rel)
	if err != nil || !ok {
		return err
	}
	defer e.close()
	return e.remove()
}
