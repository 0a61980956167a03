package layers

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// Magic numbers of the compressions ADD unpacks.
var (
	gzipMagic  = []byte{0x1f, 0x8b}
	bzip2Magic = []byte("BZh")
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// CopyArchive copies the entries of a local tar archive (plain, or
// compressed with gzip, bzip2, xz or zstd, told by its magic bytes) to tw,
// as ADD does: every name, and every hard link target, is placed below
// dest, and a name with ".." cannot climb above dest. The archive's own
// root entry is dropped; CopyArchive writes no entry for dest itself.
// Owners are kept unless opts.Chown is set; user and group names, access
// and change times and PAX records other than xattrs are dropped.
func CopyArchive(tw *tar.Writer, r io.Reader, dest string, opts ArchiveOptions) error {
	destRel, err := cleanName(dest)
	if err != nil {
		return fmt.Errorf("copying archive to %s: %w", dest, err)
	}
	ar, closeFn, _, err := decompressed(r)
	if err != nil {
		return fmt.Errorf("copying archive to %s: %w", dest, err)
	}
	defer closeFn()

	tr := tar.NewReader(ar)
	epoch := newClamp(opts.Epoch)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF && n > 0 {
			return nil
		}
		if err == io.EOF {
			return fmt.Errorf("copying archive to %s: no entries", dest)
		}
		if err != nil {
			return fmt.Errorf("copying archive to %s: reading tar: %w", dest, err)
		}
		if !rerootHeader(hdr, destRel, opts.Chown) {
			continue
		}
		epoch.header(hdr)
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("copying %s: %w", hdr.Name, err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("copying %s: %w", hdr.Name, err)
		}
	}
}

// rerootHeader rewrites hdr for a place below dest. It reports false for
// entries to leave out: the archive's root and global headers.
func rerootHeader(hdr *tar.Header, dest string, chown *Owner) bool {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return false
	}
	name := reroot(dest, hdr.Name)
	if name == reroot(dest, ".") {
		return false
	}
	if hdr.Typeflag == tar.TypeDir {
		name += "/"
	}
	hdr.Name = name
	if hdr.Typeflag == tar.TypeLink {
		hdr.Linkname = reroot(dest, hdr.Linkname)
	}
	if hdr.Typeflag == tar.TypeGNUSparse {
		hdr.Typeflag = tar.TypeReg // the reader has filled the holes in
	}
	if chown != nil {
		hdr.Uid, hdr.Gid = chown.UID, chown.GID
	}
	hdr.Uname, hdr.Gname = "", ""
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	for k := range hdr.PAXRecords {
		if !strings.HasPrefix(k, xattrRecord) {
			delete(hdr.PAXRecords, k)
		}
	}
	hdr.Format = tar.FormatPAX
	return true
}

// reroot places a tar name below dest, cleaned as if dest were "/".
func reroot(dest, name string) string {
	rel := strings.TrimPrefix(path.Clean("/"+name), "/")
	return strings.TrimPrefix(path.Join(dest, rel), "./")
}

// decompressed returns the archive stream of r, decompressing it when its
// first bytes are a known compression's magic number.
func decompressed(r io.Reader) (_ io.Reader, closeFn func(), compressed bool, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(len(xzMagic))
	nop := func() {}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, true, fmt.Errorf("gzip: %w", err)
		}
		return zr, func() { zr.Close() }, true, nil
	case bytes.HasPrefix(head, bzip2Magic):
		return bzip2.NewReader(br), nop, true, nil
	case bytes.HasPrefix(head, xzMagic):
		zr, err := xz.NewReader(br)
		if err != nil {
			return nil, nil, true, fmt.Errorf("xz: %w", err)
		}
		return zr, nop, true, nil
	case bytes.HasPrefix(head, zstdMagic):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, true, fmt.Errorf("zstd: %w", err)
		}
		return zr, zr.Close, true, nil
	}
	return br, nop, false, nil
}

// IsArchive reports whether header, the first bytes of a file, starts a
// tar archive, plain or compressed: ADD unpacks such a file and copies any
// other as it is. Give it the whole file or at least its first 128 KiB;
// when a compressed prefix is too short to decide, it answers true.
func IsArchive(header []byte) bool {
	ok, decided := sniffTar(bytes.NewReader(header))
	if decided {
		return ok
	}
	for _, m := range [][]byte{gzipMagic, bzip2Magic, xzMagic, zstdMagic} {
		if bytes.HasPrefix(header, m) {
			return true
		}
	}
	return false
}

// IsArchiveFile is IsArchive for the file at p, reading (and decompressing)
// as much of it as it takes to decide.
func IsArchiveFile(p string) (bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	ok, _ := sniffTar(f)
	return ok, nil
}

// sniffTar reads the first tar header block from r (decompressed).
// decided is false when a compressed stream broke off before a full block.
func sniffTar(r io.Reader) (ok, decided bool) {
	ar, closeFn, compressed, err := decompressed(r)
	if err != nil {
		return false, true
	}
	defer closeFn()
	block := make([]byte, 512)
	n := 0
	for n < len(block) && err == nil {
		var m int
		m, err = ar.Read(block[n:])
		n += m
	}
	if n < len(block) {
		// A stream that ended cleanly is too short to be an archive; one
		// that broke off may be a prefix of one.
		return false, err == io.EOF || !compressed
	}
	return validTarHeader(block), true
}

// validTarHeader checks a tar header block's checksum, as tar readers and
// file(1) do. Either the unsigned or the signed sum may be stored.
func validTarHeader(b []byte) bool {
	field := strings.Trim(string(b[148:156]), " \x00")
	want, err := strconv.ParseInt(field, 8, 64)
	if err != nil || field == "" {
		return false
	}
	var unsigned, signed int64
	for i, c := range b {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return want == unsigned || want == signed
}
