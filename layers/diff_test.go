//go:build linux

package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// makeUpper builds what overlay leaves in an upper directory after a RUN
// step: changed files, whiteouts (two sharing one inode, as overlay links
// them), opaque directories in both xattr namespaces, overlay's own
// xattrs, a hard link, a socket, and mount points the sandbox created.
func makeUpper(t *testing.T) string {
	t.Helper()
	up := t.TempDir()
	p := func(rel string) string { return filepath.Join(up, rel) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"a", "b", "c", "etc", "proc"} {
		must(os.Mkdir(p(d), 0o755))
	}
	must(os.WriteFile(p("a/f"), []byte("x"), 0o644))
	must(unix.Lsetxattr(p("a/f"), "user.foo", []byte("bar"), 0))
	must(unix.Lsetxattr(p("a/f"), "user.overlay.origin", []byte("junk"), 0))
	must(os.Link(p("a/f"), p("a/h")))
	must(unix.Lsetxattr(p("b"), OpaqueXattr, []byte("y"), 0))
	must(os.WriteFile(p("b/new"), []byte("n"), 0o644))
	must(unix.Lsetxattr(p("c"), trustedOpaqueXattr, []byte("y"), 0))
	must(os.WriteFile(p("etc/hosts"), nil, 0o644))
	must(os.WriteFile(p("etc/keep"), []byte("k"), 0o600))
	must(os.WriteFile(p("proc/x"), nil, 0o644))
	must(unix.Mknod(p("gone"), unix.S_IFCHR, 0))
	must(os.Link(p("gone"), p("gone2")))
	must(unix.Mknod(p("fifo"), unix.S_IFIFO|0o600, 0))
	must(unix.Mknod(p("sock"), unix.S_IFSOCK|0o600, 0))
	must(os.Symlink("a/f", p("s")))
	must(os.WriteFile(p("setuid"), []byte("su"), 0o644))
	must(os.Chown(p("setuid"), 1000, 1001))
	must(unix.Chmod(p("setuid"), 0o4755))
	setTreeTimes(t, up, t0)
	return up
}

// setTreeTimes sets every mtime below dir (and dir's) to mt.
func setTreeTimes(t *testing.T, dir string, mt time.Time) {
	t.Helper()
	ts := []unix.Timespec{timespec(mt), timespec(mt)}
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// hdr is what the diff tests compare of a tar header.
type hdr struct {
	Name     string
	Type     byte
	Link     string
	Mode     int64
	UID, GID int
	Size     int64
	Mtime    int64
	PAX      map[string]string
	Uname    string
}

func diffHeaders(t *testing.T, raw []byte) []hdr {
	t.Helper()
	var out []hdr
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, hdr{h.Name, h.Typeflag, h.Linkname, h.Mode, h.Uid, h.Gid, h.Size,
			h.ModTime.Unix(), h.PAXRecords, h.Uname + h.Gname})
	}
}

func runDiff(t *testing.T, upper string, opts DiffOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := DiffUpper(context.Background(), upper, tw, opts); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDiffUpper(t *testing.T) {
	upper := makeUpper(t)
	epoch := t0.Add(-time.Hour)
	tests := []struct {
		name string
		opts DiffOptions
		mt   int64
	}{
		{"plain", DiffOptions{Exclude: []string{"etc/hosts", "/proc/"}}, t0.Unix()},
		{"epoch", DiffOptions{Exclude: []string{"etc/hosts", "proc"}, Epoch: &epoch}, epoch.Unix()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.mt
			xa := map[string]string{"SCHILY.xattr.user.foo": "bar"}
			want := []hdr{
				{Name: "a/", Type: tar.TypeDir, Mode: 0o755, Mtime: m},
				{Name: "a/f", Type: tar.TypeReg, Mode: 0o644, Size: 1, Mtime: m, PAX: xa},
				{Name: "a/h", Type: tar.TypeLink, Link: "a/f", Mode: 0o644, Mtime: m},
				{Name: "b/", Type: tar.TypeDir, Mode: 0o755, Mtime: m},
				{Name: "b/.wh..wh..opq", Type: tar.TypeReg, Mode: 0o755, Mtime: m},
				{Name: "b/new", Type: tar.TypeReg, Mode: 0o644, Size: 1, Mtime: m},
				{Name: "c/", Type: tar.TypeDir, Mode: 0o755, Mtime: m},
				{Name: "c/.wh..wh..opq", Type: tar.TypeReg, Mode: 0o755, Mtime: m},
				{Name: "etc/", Type: tar.TypeDir, Mode: 0o755, Mtime: m},
				{Name: "etc/keep", Type: tar.TypeReg, Mode: 0o600, Size: 1, Mtime: m},
				{Name: "fifo", Type: tar.TypeFifo, Mode: 0o600, Mtime: m},
				{Name: ".wh.gone", Type: tar.TypeReg, Mtime: m},
				{Name: ".wh.gone2", Type: tar.TypeReg, Mtime: m},
				{Name: "s", Type: tar.TypeSymlink, Link: "a/f", Mode: 0o777, Mtime: m},
				{Name: "setuid", Type: tar.TypeReg, Mode: 0o4755, UID: 1000, GID: 1001, Size: 2,
					Mtime: m},
			}
			raw := runDiff(t, upper, tt.opts)
			if diff := cmp.Diff(want, diffHeaders(t, raw)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			if again := runDiff(t, upper, tt.opts); !bytes.Equal(again, raw) {
				t.Error("a second diff of the same upper gave other bytes")
			}
		})
	}
}

// TestDiffRoundTrip checks that an upper directory written as a layer and
// unpacked again gives the same tree, whiteouts and opaque marks included,
// and that diffing the unpacked tree gives the same layer.
func TestDiffRoundTrip(t *testing.T) {
	upper := makeUpper(t)
	for _, p := range []string{"etc/hosts", "proc", "sock", "c"} {
		if err := os.RemoveAll(filepath.Join(upper, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := unix.Lremovexattr(filepath.Join(upper, "a/f"), "user.overlay.origin"); err != nil {
		t.Fatal(err)
	}
	setTreeTimes(t, upper, t0)

	s := newStore(t)
	write := func(dir string) Desc {
		d, err := s.WriteLayer(context.Background(), WriteOptions{}, func(tw *tar.Writer) error {
			return DiffUpper(context.Background(), dir, tw, DiffOptions{})
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := write(upper)
	l, err := s.Layer(d)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := s.Unpack(context.Background(), l)
	if err != nil {
		t.Fatal(err)
	}
	want, got := snapshot(t, upper), snapshot(t, dir)
	delete(want, ".")
	delete(got, ".")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unpacked tree differs from the upper (-upper +unpacked):\n%s", diff)
	}
	if d2 := write(dir); d2 != d {
		t.Errorf("diff of the unpacked tree: %+v, want %+v", d2, d)
	}
}

func TestDiffUpperErrors(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := DiffUpper(context.Background(), "/nonexistent", tw, DiffOptions{}); err == nil {
		t.Error("DiffUpper of a missing directory succeeded")
	}
	err := DiffUpper(context.Background(), t.TempDir(), tw, DiffOptions{Exclude: []string{"../x"}})
	if !errContains(err, "climbs out") {
		t.Errorf("bad exclude: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := DiffUpper(ctx, makeUpper(t), tw, DiffOptions{}); !errContains(err, "canceled") {
		t.Errorf("cancelled: %v", err)
	}
}
