package layers

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

const openNoFollow = unix.O_NOFOLLOW

// fileInfo is what DiffUpper needs beyond the tar header.
type fileInfo struct {
	id       inode
	links    uint64
	whiteout bool // a 0/0 character device
	opaque   bool // a directory with overlay's opaque xattr
}

// headerOf builds the tar header for the file at p. It returns a nil header
// for a socket.
func headerOf(p, rel string) (*tar.Header, fileInfo, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, fileInfo{}, err
	}
	info := fileInfo{id: inode{uint64(st.Dev), st.Ino}, links: uint64(st.Nlink)}
	hdr := &tar.Header{
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(st.Mtim.Sec, 0),
		Format:  tar.FormatPAX,
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
	case unix.S_IFLNK:
		target, err := os.Readlink(p)
		if err != nil {
			return nil, info, err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFCHR, unix.S_IFBLK:
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			info.whiteout = true
			hdr.Typeflag = tar.TypeReg
			return hdr, info, nil
		}
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return nil, info, nil
	}

	xa, err := readXattrs(p)
	if err != nil {
		return nil, info, err
	}
	for name, value := range xa {
		if name == OpaqueXattr || name == trustedOpaqueXattr {
			info.opaque = info.opaque || hdr.Typeflag == tar.TypeDir && value == "y"
		}
		if isOverlayXattr(name) {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[xattrRecord+name] = value
	}
	return hdr, info, nil
}

// readXattrs returns every xattr of p (not following a symlink). A file
// system without xattrs gives none.
func readXattrs(p string) (map[string]string, error) {
	buf := make([]byte, 1024)
	n, err := unix.Llistxattr(p, buf)
	if err == unix.ERANGE {
		if n, err = unix.Llistxattr(p, nil); err == nil {
			buf = make([]byte, n)
			n, err = unix.Llistxattr(p, buf)
		}
	}
	if err == unix.ENOTSUP {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing xattrs: %w", err)
	}
	var m map[string]string
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		v, err := getXattr(p, string(name))
		if err == unix.ENODATA {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("reading xattr %s: %w", name, err)
		}
		if m == nil {
			m = map[string]string{}
		}
		m[string(name)] = v
	}
	return m, nil
}

func getXattr(p, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Lgetxattr(p, name, buf)
		if err == unix.ERANGE {
			size, err := unix.Lgetxattr(p, name, nil)
			if err != nil {
				return "", err
			}
			buf = make([]byte, size)
			continue
		}
		if err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
}
