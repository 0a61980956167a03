//go:build linux

package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// t0 is the default mtime of test entries.
var t0 = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// tent is a test tar entry; the zero value of a field picks a default.
type tent struct {
	name   string
	typ    byte // default TypeReg
	body   string
	link   string
	mode   int64 // default 0644 (0755 for directories)
	uid    int
	gid    int
	mtime  time.Time
	xattrs map[string]string
	major  int64
	minor  int64
	size   int64 // when set, the header claims this size
}

func (e tent) header() *tar.Header {
	h := &tar.Header{
		Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: e.mode,
		Uid: e.uid, Gid: e.gid, ModTime: e.mtime, Devmajor: e.major, Devminor: e.minor,
		Format: tar.FormatPAX,
	}
	if h.Typeflag == 0 {
		h.Typeflag = tar.TypeReg
	}
	if h.Mode == 0 {
		h.Mode = 0o644
		if h.Typeflag == tar.TypeDir {
			h.Mode = 0o755
		}
	}
	if h.ModTime.IsZero() {
		h.ModTime = t0
	}
	if h.Typeflag == tar.TypeReg {
		h.Size = int64(len(e.body))
	}
	for k, v := range e.xattrs {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords[xattrRecord+k] = v
	}
	return h
}

// makeTar builds a tar stream from entries. A size that differs from the
// body is written by hand so that the stream lies as a hostile one would.
func makeTar(t testing.TB, ents ...tent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := e.header()
		if e.size != 0 {
			h.Size = e.size
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("header %s: %v", e.name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil && e.size == 0 {
			t.Fatalf("body %s: %v", e.name, err)
		}
		if e.size != 0 {
			return buf.Bytes() // the entry is short: the stream ends here
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// node is what a test compares of one file in a tree.
type node struct {
	Type   string
	Mode   uint32
	UID    int
	GID    int
	Body   string
	Link   string
	Dev    [2]uint32
	Xattrs map[string]string
	Mtime  int64
}

// snapshot describes every file below dir by its slash path.
func snapshot(t testing.TB, dir string) map[string]node {
	t.Helper()
	tree := map[string]node{}
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		n := node{Mode: st.Mode & 0o7777, UID: int(st.Uid), GID: int(st.Gid), Mtime: st.Mtim.Sec}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			n.Type = "dir"
		case unix.S_IFREG:
			n.Type = "file"
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n.Body = string(b)
		case unix.S_IFLNK:
			n.Type = "symlink"
			n.Link, _ = os.Readlink(p)
		case unix.S_IFCHR:
			n.Type = "char"
			n.Dev = [2]uint32{unix.Major(st.Rdev), unix.Minor(st.Rdev)}
		case unix.S_IFBLK:
			n.Type = "block"
			n.Dev = [2]uint32{unix.Major(st.Rdev), unix.Minor(st.Rdev)}
		case unix.S_IFIFO:
			n.Type = "fifo"
		}
		n.Xattrs, err = readXattrs(p)
		if err != nil {
			return err
		}
		tree[filepath.ToSlash(rel)] = n
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", dir, err)
	}
	return tree
}

// jail makes a root directory to extract into and, beside it, a sentinel
// directory that an escape would reach. check fails the test if anything
// beside the root, or in the sentinel, changed.
func jail(t *testing.T) (root, sentinel string, check func()) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s := newSentinel(t, base)
	return root, s.dir, func() { t.Helper(); s.check(t, "root") }
}

// sentinel is a directory beside extraction roots that must never change.
type sentinel struct {
	base, dir string
	before    map[string]node
}

func newSentinel(t testing.TB, base string) *sentinel {
	t.Helper()
	dir := filepath.Join(base, "sentinel")
	for _, d := range []string{dir, filepath.Join(dir, "dir")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "victim"), []byte("original"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("victim", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return &sentinel{base: base, dir: dir, before: snapshot(t, dir)}
}

// check fails t if the sentinel changed or base holds anything but the
// sentinel and the named roots.
func (s *sentinel) check(t testing.TB, roots ...string) {
	t.Helper()
	if diff := cmp.Diff(s.before, snapshot(t, s.dir)); diff != "" {
		t.Errorf("sentinel changed (-before +after):\n%s", diff)
	}
	ents, err := os.ReadDir(s.base)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"sentinel": true}
	for _, r := range roots {
		want[r] = true
	}
	for _, e := range ents {
		if !want[e.Name()] {
			t.Errorf("%s appeared beside the root", e.Name())
		}
	}
}

// extract runs Extract on a tar built from ents, collecting warnings.
func extract(t testing.TB, dir string, ents ...tent) ([]string, error) {
	t.Helper()
	var warnings []string
	opts := ExtractOptions{Warn: func(err error) { warnings = append(warnings, err.Error()) }}
	err := Extract(context.Background(), bytes.NewReader(makeTar(t, ents...)), dir, opts)
	return warnings, err
}

// errContains reports whether err's text holds want ("" wants no error).
func errContains(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func tarReader(t testing.TB, ents ...tent) io.Reader { return bytes.NewReader(makeTar(t, ents...)) }
