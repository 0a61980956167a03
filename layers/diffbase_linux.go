package layers

import (
	"bytes"
	"errors"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// sameAsLower reports whether the upper entry at up is what overlay copied
// up from low without changing it.
func sameAsLower(up, low string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Lstat(up, &a); err != nil {
		return false, err
	}
	if err := unix.Lstat(low, &b); err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
			return false, nil
		}
		return false, err
	}
	if a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid || a.Rdev != b.Rdev {
		return false, nil
	}
	if !bytes.Equal(capability(up), capability(low)) {
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
		t2, err2 := os.Readlink(low)
		return err1 == nil && err2 == nil && t1 == t2, nil
	case unix.S_IFREG:
		if a.Size == 0 {
			return true, nil
		}
		return sameContent(up, low)
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

// sameContent compares two regular files byte by byte.
func sameContent(p1, p2 string) (bool, error) {
	f1, err := os.Open(p1)
	if err != nil {
		return false, err
	}
	defer f1.Close()
	f2, err := os.Open(p2)
	if err != nil {
		return false, err
	}
	defer f2.Close()
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
