package layers

import (
	"archive/tar"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// bigFile is the size above which a file's size is checked against the free
// space first, so an absurd header fails at once instead of filling a disk.
const bigFile = 1 << 30

// extractor applies tar entries below one root directory.
type extractor struct {
	root     *rootDir
	opts     ExtractOptions
	dirTimes map[string]time.Time // set last: writing children changes them
	buf      []byte               // copy buffer
	zeros    []byte               // as long as buf, all zero
}

func newExtractor(dir string, opts ExtractOptions) (*extractor, error) {
	r, err := openRootDir(dir)
	if err != nil {
		return nil, err
	}
	return &extractor{root: r, opts: opts, dirTimes: map[string]time.Time{}}, nil
}

func (x *extractor) close() { x.root.close() }

// replace makes room for a new entry at base in pfd: any existing non
// directory is removed, and so is an existing directory unless keepDir is
// set. It reports whether a directory was kept.
func (x *extractor) replace(pfd int, rel, base string, keepDir bool) (bool, error) {
	if rel == "." {
		return true, nil
	}
	st, ok, err := lstatAt(pfd, base)
	if err != nil || !ok {
		return false, err
	}
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	if isDir && keepDir {
		return true, nil
	}
	if isDir {
		x.forgetDirTimes(rel)
	}
	return false, removeAt(pfd, base)
}

// forgetDirTimes drops the pending mtimes of rel and everything below it.
func (x *extractor) forgetDirTimes(rel string) {
	for k := range x.dirTimes {
		if k == rel || strings.HasPrefix(k, rel+"/") {
			delete(x.dirTimes, k)
		}
	}
}

func (x *extractor) mkdir(rel string, hdr *tar.Header) error {
	pfd, base, err := x.root.parent(rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if rel == "." {
		pfd, base = x.root.fd, "."
	}
	st, _, err := lstatAt(pfd, base)
	if err != nil {
		return err
	}
	kept, err := x.replace(pfd, rel, base, true)
	if err != nil {
		return err
	}
	if !kept {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return fmt.Errorf("creating directory: %w", err)
		}
	}
	if isWhiteout(&st) {
		// Deleted below and created here: hide what the layers below hold.
		if err := setXattrAt(pfd, base, OpaqueXattr, "y"); err != nil {
			return fmt.Errorf("marking opaque: %w", err)
		}
	}
	x.dirTimes[rel] = hdr.ModTime
	return x.meta(pfd, base, hdr, false)
}

func (x *extractor) file(rel string, hdr *tar.Header, r io.Reader) error {
	pfd, base, err := x.root.parent(rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if err := checkSpace(pfd, hdr.Size); err != nil {
		return err
	}
	if _, err := x.replace(pfd, rel, base, false); err != nil {
		return err
	}
	fd, err := unix.Openat(pfd, base,
		unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("creating file: %w", err)
	}
	f := os.NewFile(uintptr(fd), rel)
	n, err := x.copySparse(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != hdr.Size {
		err = fmt.Errorf("wrote %d bytes, header says %d", n, hdr.Size)
	}
	if err != nil {
		return fmt.Errorf("writing file: %w", err)
	}
	return x.meta(pfd, base, hdr, true)
}

// copySparse copies r into f, seeking over chunks of zeros instead of
// writing them, so the holes of a sparse file (which the tar reader hands
// out as zeros) take no disk space, however large the header says it is.
// Long runs of zeros in an ordinary file become holes too, which reads the
// same. A hole still costs the time to produce and compare its zeros.
func (x *extractor) copySparse(f *os.File, r io.Reader) (int64, error) {
	if x.buf == nil {
		x.buf, x.zeros = make([]byte, 128<<10), make([]byte, 128<<10)
	}
	var n int64
	hole := false
	for {
		m, err := r.Read(x.buf)
		if m > 0 {
			chunk := x.buf[:m]
			if hole = bytes.Equal(chunk, x.zeros[:m]); hole {
				_, werr := f.Seek(int64(m), io.SeekCurrent)
				err = cmp.Or(werr, err)
			} else if _, werr := f.Write(chunk); werr != nil {
				err = werr
			}
			n += int64(m)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if hole {
		return n, f.Truncate(n) // a trailing hole: give the file its size
	}
	return n, nil
}

// checkSpace refuses a file larger than the free space of the file system.
func checkSpace(dfd int, size int64) error {
	if size < bigFile {
		return nil
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(dfd, &st); err != nil {
		return nil // no answer; the write itself will fail if it must
	}
	if free := int64(st.Bavail) * st.Bsize; size > free {
		return fmt.Errorf("file of %d bytes exceeds the %d bytes free", size, free)
	}
	return nil
}

func (x *extractor) symlink(rel string, hdr *tar.Header) error {
	pfd, base, err := x.root.parent(rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if _, err := x.replace(pfd, rel, base, false); err != nil {
		return err
	}
	if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
		return fmt.Errorf("creating symlink: %w", err)
	}
	return x.meta(pfd, base, hdr, true)
}

// link creates a hard link rel to target. The target is resolved without
// following any symlink, so a link can only ever name a file in the root.
func (x *extractor) link(rel, target string) error {
	if rel == target {
		return nil
	}
	dir, tbase := path.Split(target)
	tfd, err := x.root.resolve(cleanDir(dir), true)
	if err != nil {
		return fmt.Errorf("hard link target %s: %w", target, err)
	}
	defer unix.Close(tfd)
	st, ok, err := lstatAt(tfd, tbase)
	switch {
	case err == nil && !ok:
		err = errors.New("no such file")
	case err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR:
		err = errors.New("is a directory")
	}
	if err != nil {
		return fmt.Errorf("hard link target %s: %w", target, err)
	}

	pfd, base, err := x.root.parent(rel, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if _, err := x.replace(pfd, rel, base, false); err != nil {
		return err
	}
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return fmt.Errorf("creating hard link to %s: %w", target, err)
	}
	return nil
}
