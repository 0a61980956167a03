package layers

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// MergeLayers merges unpacked layer directories (overlay-lower form, the
// bottom-most first) into dst, which it creates, as one directory in the
// same form: what a later layer deletes is gone (a whiteout stays in place
// of it, for the layers below all of them), an opaque directory drops what
// the earlier layers had there, and the latest version of every file wins.
// It is what squashing several layers into one needs.
func MergeLayers(dst string, dirs ...string) error {
	return merge(dst, false, dirs)
}

// Materialize builds in dst (which it creates) the root filesystem that
// layer directories in overlay-lower form (the bottom-most first) make
// together: whiteouts are applied, not kept, and no overlay marks remain.
// It is the root of a RUN step where overlayfs cannot be mounted.
func Materialize(dst string, dirs ...string) error {
	return merge(dst, true, dirs)
}

func merge(dst string, apply bool, dirs []string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return fmt.Errorf("merging layers: %w", err)
	}
	for _, src := range dirs {
		m := &merger{dst: dst, links: map[inode]string{}, apply: apply}
		if err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, p)
			if err != nil || rel == "." {
				return err
			}
			return m.entry(p, rel)
		}); err != nil {
			return fmt.Errorf("merging layer %s: %w", src, err)
		}
		if err := copyMeta(src, dst); err != nil {
			return fmt.Errorf("merging layer %s: %w", src, err)
		}
	}
	return nil
}

// merger copies one layer's entries over the merged tree.
type merger struct {
	dst   string
	links map[inode]string
	// apply removes what whiteouts name instead of keeping the whiteouts.
	apply bool
}

func (m *merger) entry(p, rel string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	target := filepath.Join(m.dst, rel)
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	opaque := isDir && isOpaque(p)
	var old unix.Stat_t
	exists := unix.Lstat(target, &old) == nil
	if exists && (!isDir || opaque || old.Mode&unix.S_IFMT != unix.S_IFDIR) {
		if err := os.RemoveAll(target); err != nil {
			return err
		}
		exists = false
	}
	if isDir {
		if !exists {
			if err := os.Mkdir(target, 0o700); err != nil {
				return err
			}
		}
		if err := copyMeta(p, target); err != nil {
			return err
		}
		if m.apply && opaque {
			_ = unix.Lremovexattr(target, OpaqueXattr)
			_ = unix.Lremovexattr(target, "trusted.overlay.opaque")
		}
		return nil
	}
	if m.apply && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
		return nil // a whiteout: what it names is gone already
	}
	id := inode{uint64(st.Dev), st.Ino}
	if first, ok := m.links[id]; ok && st.Nlink > 1 {
		return os.Link(first, target)
	}
	if err := copyNode(p, target, &st); err != nil {
		return err
	}
	if st.Nlink > 1 {
		m.links[id] = target
	}
	return copyMeta(p, target)
}

func isOpaque(p string) bool {
	buf := make([]byte, 8)
	for _, k := range []string{OpaqueXattr, "trusted.overlay.opaque"} {
		if n, err := unix.Lgetxattr(p, k, buf); err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// copyNode creates a copy of the non-directory at p (whiteouts included).
func copyNode(p, target string, st *unix.Stat_t) error {
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return copyRegular(p, target)
	case unix.S_IFLNK:
		link, err := os.Readlink(p)
		if err != nil {
			return err
		}
		return os.Symlink(link, target)
	case unix.S_IFCHR, unix.S_IFBLK, unix.S_IFIFO:
		return unix.Mknod(target, st.Mode, int(st.Rdev))
	}
	return nil // sockets are not part of layers
}

func copyRegular(p, target string) error {
	b, err := os.Open(p)
	if err != nil {
		return err
	}
	defer b.Close()
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.ReadFrom(b); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copyMeta gives target the owner, mode, xattrs and times of p.
func copyMeta(p, target string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	if err := unix.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if !isLink {
		if err := unix.Chmod(target, st.Mode&0o7777); err != nil {
			return err
		}
	}
	if err := copyXattrs(p, target); err != nil {
		return err
	}
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func copyXattrs(p, target string) error {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(p, buf)
	if err != nil || n == 0 {
		return nil
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		val := make([]byte, 64<<10)
		vn, err := unix.Lgetxattr(p, name, val)
		if err != nil {
			continue
		}
		err = unix.Lsetxattr(target, name, val[:vn], 0)
		if err != nil && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.ENOTSUP) {
			return fmt.Errorf("setting %s on %s: %w", name, target, err)
		}
	}
	return nil
}
