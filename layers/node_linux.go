package layers

import (
	"archive/tar"
	"errors"
	"fmt"
	"math"
	"path"
	"time"

	"golang.org/x/sys/unix"
)

// node creates a device node or fifo. Device nodes the kernel refuses (any
// but 0/0 inside a user namespace) are skipped with a warning.
func (x *extractor) node(rel string, hdr *tar.Header) error {
	pfd, base, err := x.root.parent(rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if _, err := x.replace(pfd, rel, base, false); err != nil {
		return err
	}
	mode := uint32(hdr.Mode & 0o7777)
	dev := 0
	switch hdr.Typeflag {
	case tar.TypeChar:
		mode |= unix.S_IFCHR
		dev = int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	case tar.TypeBlock:
		mode |= unix.S_IFBLK
		dev = int(unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor)))
	default:
		mode |= unix.S_IFIFO
	}
	err = unix.Mknodat(pfd, base, mode, dev)
	if errors.Is(err, unix.EPERM) && hdr.Typeflag != tar.TypeFifo {
		x.opts.warn(fmt.Errorf("skipping device %s (%d:%d): %w",
			rel, hdr.Devmajor, hdr.Devminor, err))
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating node: %w", err)
	}
	return x.meta(pfd, base, hdr, true)
}

// whiteout records that rel is deleted from the layers below: a 0/0
// character device, as overlay writes one in an upper directory, with the
// owner, mode and times of the whiteout entry so that a layer survives a
// round trip unchanged. A whiteout applies only to the layers below, so
// when this layer already has rel, rel stays; a directory becomes opaque.
func (x *extractor) whiteout(rel string, hdr *tar.Header) error {
	pfd, base, err := x.root.parent(rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	st, exists, err := lstatAt(pfd, base)
	switch {
	case err != nil:
		return err
	case exists && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		if err := setXattrAt(pfd, base, OpaqueXattr, "y"); err != nil {
			return fmt.Errorf("marking %s opaque: %w", rel, err)
		}
		return nil
	case exists:
		return nil
	}
	if err := unix.Mknodat(pfd, base, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("creating whiteout for %s: %w", rel, err)
	}
	return x.meta(pfd, base, hdr, true)
}

// opaque marks the directory rel opaque, creating it when missing.
func (x *extractor) opaque(rel string) error {
	fd, err := x.root.mkdirAll(rel)
	if err != nil {
		return fmt.Errorf("opening directory %s: %w", rel, err)
	}
	defer unix.Close(fd)
	if err := setXattrAt(fd, ".", OpaqueXattr, "y"); err != nil {
		return fmt.Errorf("marking %s opaque: %w", rel, err)
	}
	return nil
}

// meta applies owner, mode, xattrs and (unless deferred for directories)
// times to base in pfd. Symlinks get no mode.
func (x *extractor) meta(pfd int, base string, hdr *tar.Header, times bool) error {
	// Ids are 32 bits and -1 means "leave as is": refuse what would wrap.
	if uint64(hdr.Uid) >= math.MaxUint32 || uint64(hdr.Gid) >= math.MaxUint32 {
		return fmt.Errorf("owner %d:%d out of range", hdr.Uid, hdr.Gid)
	}
	err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW)
	if err != nil {
		err = fmt.Errorf("setting owner %d:%d: %w", hdr.Uid, hdr.Gid, err)
		lossy := errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM)
		if !x.opts.LossyOwners || !lossy {
			return err
		}
		x.opts.warn(fmt.Errorf("%s: %w", hdr.Name, err))
	}
	// After chown, which clears setuid and setgid bits.
	if hdr.Typeflag != tar.TypeSymlink {
		if err := chmodAt(pfd, base, uint32(hdr.Mode&0o7777)); err != nil {
			return fmt.Errorf("setting mode %o: %w", hdr.Mode&0o7777, err)
		}
	}
	for name, value := range xattrs(hdr) {
		err := setXattrAt(pfd, base, name, value)
		if errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOTSUP) {
			x.opts.warn(fmt.Errorf("skipping xattr %s of %s: %w", name, hdr.Name, err))
		} else if err != nil {
			return fmt.Errorf("setting xattr %s: %w", name, err)
		}
	}
	if !times {
		return nil
	}
	if err := setTimesAt(pfd, base, hdr.AccessTime, hdr.ModTime); err != nil {
		return fmt.Errorf("setting times: %w", err)
	}
	return nil
}

// finish sets the directory mtimes, now that nothing more is written below
// them. A directory that a later entry replaced is skipped.
func (x *extractor) finish() error {
	for rel, mtime := range x.dirTimes {
		if err := x.setDirTime(rel, mtime); err != nil {
			return fmt.Errorf("setting times of %s: %w", rel, err)
		}
	}
	return nil
}

func (x *extractor) setDirTime(rel string, mtime time.Time) error {
	if rel == "." {
		return setTimesAt(x.root.fd, ".", mtime, mtime)
	}
	dir, base := path.Split(rel)
	fd, err := x.root.resolve(cleanDir(dir), false)
	if err == unix.ENOENT || err == unix.ENOTDIR {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := setTimesAt(fd, base, mtime, mtime); err != unix.ENOENT {
		return err
	}
	return nil
}
