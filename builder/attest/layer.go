package attest

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"runtime/debug"
	"strings"
)

// Layer is one layer of the image Scan reads.
type Layer struct {
	// Open returns the layer's uncompressed tar stream.
	Open func() (io.ReadCloser, error)
	// Added marks a layer a COPY or ADD of this build wrote: Scan lists
	// its regular files, with their digests, that the final image shows.
	Added bool
	// CreatedBy is the instruction that wrote the layer.
	CreatedBy string
}

// entryKind is what a tar entry does to the paths of the layers below.
type entryKind uint8

const (
	kindDir      entryKind = iota // a directory: lower content below it stays
	kindOther                     // a file, link or device: replaces the path and hides below it
	kindWhiteout                  // .wh.NAME: removes NAME and all below it
	kindOpaque                    // .wh..wh..opq: hides the lower content of its directory
)

type entry struct {
	path string
	kind entryKind
}

// goBinary is what readBuildInfo found in one executable.
type goBinary struct {
	info *debug.BuildInfo
	err  error
}

// layerIndex is what one layer holds that Scan needs: every path with its
// kind, the content of the package databases, the build information of
// Go binaries and, for an added layer, its files with digests.
type layerIndex struct {
	entries  []entry
	contents map[string][]byte
	markers  map[string]bool
	gobins   map[string]goBinary
	files    map[string]File
}

// maxDatabase bounds the size of a package database Scan reads.
const maxDatabase = 256 << 20

// rpmDatabases are the files of an RPM database, which Scan reports as a
// warning.
// TODO: list RPM packages; reading rpmdb.sqlite (and the older Berkeley DB
// Packages file) needs a pure-Go SQLite, which go.mod does not have.
var rpmDatabases = map[string]bool{
	"var/lib/rpm/rpmdb.sqlite": true, "var/lib/rpm/Packages": true,
	"var/lib/rpm/Packages.db": true, "usr/lib/sysimage/rpm/rpmdb.sqlite": true,
}

// wantContent says whether Scan keeps the content of the file at p.
func wantContent(p string) bool {
	switch {
	case p == dpkgStatus, p == apkInstalled[0], p == apkInstalled[1]:
		return true
	case p == osRelease[0], p == osRelease[1]:
		return true
	case strings.HasPrefix(p, dpkgStatusDir):
		return !strings.HasSuffix(p, ".md5sums") && !strings.Contains(p[len(dpkgStatusDir):], "/")
	}
	return false
}

// readLayer reads one layer's tar stream through once.
func readLayer(ctx context.Context, l Layer) (*layerIndex, error) {
	rc, err := l.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	li := &layerIndex{contents: map[string][]byte{}, markers: map[string]bool{},
		gobins: map[string]goBinary{}, files: map[string]File{}}
	tr := tar.NewReader(rc)
	br := bufio.NewReaderSize(nil, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return li, nil
		}
		if err != nil {
			return nil, err
		}
		if err := li.add(hdr, tr, br, l); err != nil {
			return nil, fmt.Errorf("reading %s: %w", hdr.Name, err)
		}
	}
}

// add records one tar entry.
func (li *layerIndex) add(hdr *tar.Header, r io.Reader, br *bufio.Reader, l Layer) error {
	p := cleanName(hdr.Name)
	if p == "" {
		return nil
	}
	dir, base := path.Split(p)
	switch {
	case base == ".wh..wh..opq":
		li.entries = append(li.entries, entry{path: path.Clean(dir), kind: kindOpaque})
		return nil
	case strings.HasPrefix(base, ".wh."):
		li.entries = append(li.entries, entry{path: dir + base[4:], kind: kindWhiteout})
		return nil
	case hdr.Typeflag == tar.TypeDir:
		li.entries = append(li.entries, entry{path: p, kind: kindDir})
		return nil
	}
	li.entries = append(li.entries, entry{path: p, kind: kindOther})
	if rpmDatabases[p] {
		li.markers[p] = true
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		return li.readFile(p, hdr, r, br, l)
	case tar.TypeLink:
		if f, ok := li.files[cleanName(hdr.Linkname)]; ok && l.Added {
			f.Path = "/" + p
			li.files[p] = f
		}
	}
	return nil
}

// readFile reads what Scan needs of a regular file: the content of a
// package database, the build information of an executable, the digests
// of a file of an added layer.
func (li *layerIndex) readFile(p string, hdr *tar.Header, r io.Reader, br *bufio.Reader,
	l Layer) error {
	db := wantContent(p)
	exe := hdr.Mode&0o111 != 0 && hdr.Size >= 64
	if !db && !exe && !l.Added {
		return nil
	}
	h256, h1 := sha256.New(), sha1.New()
	if l.Added {
		r = io.TeeReader(r, io.MultiWriter(h256, h1))
	}
	switch {
	case db:
		data, err := io.ReadAll(io.LimitReader(r, maxDatabase))
		if err != nil {
			return err
		}
		li.contents[p] = data
	case exe:
		br.Reset(r)
		if magic, _ := br.Peek(4); string(magic) == "\x7fELF" {
			bi, err := readBuildInfo(br)
			if !errors.Is(err, errNotGo) {
				li.gobins[p] = goBinary{info: bi, err: err}
			}
		}
		r = br
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	if l.Added {
		li.files[p] = File{Path: "/" + p, SHA256: hex.EncodeToString(h256.Sum(nil)),
			SHA1: hex.EncodeToString(h1.Sum(nil)), Size: hdr.Size, CreatedBy: l.CreatedBy}
	}
	return nil
}

// cleanName turns a tar entry name into a clean relative path, "" for the
// root.
func cleanName(name string) string {
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/")
}
