//go:build linux

package layers

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"
)

func dirNode(mode uint32) node { return node{Type: "dir", Mode: mode} }

func fileNode(body string, mode uint32) node {
	return node{Type: "file", Mode: mode, Body: body}
}

func linkNode(target string) node { return node{Type: "symlink", Mode: 0o777, Link: target} }

var whiteoutNode = node{Type: "char", Mode: 0o644}

// netRaw is a security.capability value (v2) granting CAP_NET_RAW.
const netRaw = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

var ignoreMtime = cmpopts.IgnoreFields(node{}, "Mtime")

func TestExtract(t *testing.T) {
	opaque := map[string]string{OpaqueXattr: "y"}
	tests := []struct {
		name string
		ents []tent
		want map[string]node
	}{{
		name: "entry types",
		ents: []tent{
			{name: "d/", typ: tar.TypeDir},
			{name: "d/f", body: "hello"},
			{name: "d/s", typ: tar.TypeSymlink, link: "f"},
			{name: "d/abs", typ: tar.TypeSymlink, link: "/etc/../../outside"},
			{name: "d/h", typ: tar.TypeLink, link: "d/f"},
			{name: "null", typ: tar.TypeChar, major: 1, minor: 3, mode: 0o666},
			{name: "loop", typ: tar.TypeBlock, major: 7, minor: 0, mode: 0o660},
			{name: "pipe", typ: tar.TypeFifo, mode: 0o600},
		},
		want: map[string]node{
			".": dirNode(0o755), "d": dirNode(0o755),
			"d/f": fileNode("hello", 0o644), "d/h": fileNode("hello", 0o644),
			"d/s": linkNode("f"), "d/abs": linkNode("/etc/../../outside"),
			"null": {Type: "char", Mode: 0o666, Dev: [2]uint32{1, 3}},
			"loop": {Type: "block", Mode: 0o660, Dev: [2]uint32{7, 0}},
			"pipe": {Type: "fifo", Mode: 0o600},
		},
	}, {
		name: "modes and owners",
		ents: []tent{
			{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
			{name: "shared/", typ: tar.TypeDir, mode: 0o2775, gid: 50},
			{name: "bin/su", body: "x", mode: 0o4755, uid: 0, gid: 0},
			{name: "bin/app", body: "y", mode: 0o6750, uid: 1000, gid: 1000},
			{name: "bin/l", typ: tar.TypeSymlink, link: "app", uid: 7, gid: 8},
		},
		want: map[string]node{
			".": dirNode(0o755), "tmp": dirNode(0o1777), "bin": dirNode(0o755),
			"shared":  {Type: "dir", Mode: 0o2775, GID: 50},
			"bin/su":  fileNode("x", 0o4755),
			"bin/app": {Type: "file", Mode: 0o6750, UID: 1000, GID: 1000, Body: "y"},
			"bin/l":   {Type: "symlink", Mode: 0o777, Link: "app", UID: 7, GID: 8},
		},
	}, {
		name: "names",
		ents: []tent{
			{name: "./", typ: tar.TypeDir, mode: 0o700},
			{name: "/etc/passwd", body: "root"},
			{name: "./a/./b/../c", body: "c"},
			{name: "x//y", body: "y"},
		},
		want: map[string]node{
			".": dirNode(0o700), "etc": dirNode(0o755), "a": dirNode(0o755), "x": dirNode(0o755),
			"etc/passwd": fileNode("root", 0o644), "a/c": fileNode("c", 0o644),
			"x/y": fileNode("y", 0o644),
		},
	}, {
		name: "later entries win",
		ents: []tent{
			{name: "f2d", body: "file"},
			{name: "f2d/", typ: tar.TypeDir},
			{name: "d2f/sub/deep", body: "gone"},
			{name: "d2f", body: "now a file"},
			{name: "s2f", typ: tar.TypeSymlink, link: "f2d"},
			{name: "s2f", body: "replaces the link, not its target"},
			{name: "f2s", body: "x"},
			{name: "f2s", typ: tar.TypeSymlink, link: "/nowhere"},
			{name: "dd/", typ: tar.TypeDir, mode: 0o700},
			{name: "dd/keep", body: "kept"},
			{name: "dd/", typ: tar.TypeDir, mode: 0o750},
			{name: "twice", body: "one"},
			{name: "twice", body: "two"},
		},
		want: map[string]node{
			".": dirNode(0o755), "f2d": dirNode(0o755),
			"d2f": fileNode("now a file", 0o644),
			"s2f": fileNode("replaces the link, not its target", 0o644),
			"f2s": linkNode("/nowhere"),
			"dd":  dirNode(0o750), "dd/keep": fileNode("kept", 0o644),
			"twice": fileNode("two", 0o644),
		},
	}, {
		name: "whiteouts",
		ents: []tent{
			{name: ".wh.gone"},
			{name: "etc/.wh.hosts"},
			{name: "var/lib/.wh..wh..opq"},
			{name: "opt/", typ: tar.TypeDir},
			{name: "opt/.wh..wh..opq"},
			{name: "opt/new", body: "n"},
			{name: "was/file", body: "x"},
			{name: "was/.wh.file"},
			{name: "dir/sub/f", body: "x"},
			{name: ".wh.dir"},
			{name: ".wh..wh.plnk/123"},
			{name: ".wh.implied"},
			{name: "implied/f", body: "i"},
			{name: ".wh.explicit"},
			{name: "explicit/", typ: tar.TypeDir, mode: 0o700},
			{name: ".wh.tofile"},
			{name: "tofile", body: "t"},
		},
		want: map[string]node{
			".": dirNode(0o755), "gone": whiteoutNode,
			"etc": dirNode(0o755), "etc/hosts": whiteoutNode,
			"var": dirNode(0o755), "var/lib": {Type: "dir", Mode: 0o755, Xattrs: opaque},
			"opt":     {Type: "dir", Mode: 0o755, Xattrs: opaque},
			"opt/new": fileNode("n", 0o644),
			"was":     dirNode(0o755), "was/file": fileNode("x", 0o644),
			"dir":       {Type: "dir", Mode: 0o755, Xattrs: opaque},
			"dir/sub":   dirNode(0o755),
			"dir/sub/f": fileNode("x", 0o644),
			"implied":   {Type: "dir", Mode: 0o755, Xattrs: opaque},
			"implied/f": fileNode("i", 0o644),
			"explicit":  {Type: "dir", Mode: 0o700, Xattrs: opaque},
			"tofile":    fileNode("t", 0o644),
		},
	}, {
		name: "xattrs",
		ents: []tent{
			{name: "f", body: "x", xattrs: map[string]string{"user.a": "1", "user.b": ""}},
			{name: "ping", body: "p", xattrs: map[string]string{"security.capability": netRaw}},
			{name: "t", body: "t", xattrs: map[string]string{"trusted.x": "y"}},
			{name: "sneaky/", typ: tar.TypeDir, xattrs: map[string]string{
				"user.overlay.opaque": "y", "trusted.overlay.redirect": "/etc", "user.ok": "1",
			}},
		},
		want: map[string]node{
			".": dirNode(0o755),
			"f": {Type: "file", Mode: 0o644, Body: "x",
				Xattrs: map[string]string{"user.a": "1", "user.b": ""}},
			"ping": {Type: "file", Mode: 0o644, Body: "p",
				Xattrs: map[string]string{"security.capability": netRaw}},
			"t":      {Type: "file", Mode: 0o644, Body: "t", Xattrs: map[string]string{"trusted.x": "y"}},
			"sneaky": {Type: "dir", Mode: 0o755, Xattrs: map[string]string{"user.ok": "1"}},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _, check := jail(t)
			warnings, err := extract(t, root, tt.ents...)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if len(warnings) > 0 {
				t.Errorf("warnings: %q", warnings)
			}
			if diff := cmp.Diff(tt.want, snapshot(t, root), ignoreMtime); diff != "" {
				t.Errorf("tree (-want +got):\n%s", diff)
			}
			check()
		})
	}
}

func TestExtractHardLinkSharesInode(t *testing.T) {
	root := t.TempDir()
	if _, err := extract(t, root,
		tent{name: "a", body: "data"},
		tent{name: "sub/b", typ: tar.TypeLink, link: "./a"},
		tent{name: "c", typ: tar.TypeLink, link: "/sub/b"},
	); err != nil {
		t.Fatal(err)
	}
	var a, b, c unix.Stat_t
	for p, st := range map[string]*unix.Stat_t{"a": &a, "sub/b": &b, "c": &c} {
		if err := unix.Lstat(filepath.Join(root, p), st); err != nil {
			t.Fatal(err)
		}
	}
	if a.Ino != b.Ino || a.Ino != c.Ino || a.Nlink != 3 {
		t.Errorf("inodes %d %d %d, links %d: want one inode with 3 links", a.Ino, b.Ino, c.Ino, a.Nlink)
	}
}

func TestExtractTimes(t *testing.T) {
	root := t.TempDir()
	old := t0.AddDate(-5, 0, 0)
	if _, err := extract(t, root,
		tent{name: "d/", typ: tar.TypeDir, mtime: old},
		tent{name: "d/f", body: "x", mtime: t0},
		tent{name: "d/s", typ: tar.TypeSymlink, link: "f", mtime: old.AddDate(1, 0, 0)},
		tent{name: "d/e/", typ: tar.TypeDir, mtime: old.AddDate(2, 0, 0)},
		tent{name: "d/e/g", body: "y", mtime: old.AddDate(3, 0, 0)},
		tent{name: "./", typ: tar.TypeDir, mtime: old.AddDate(4, 0, 0)},
	); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for p, n := range snapshot(t, root) {
		got[p] = n.Mtime
	}
	want := map[string]int64{
		".": old.AddDate(4, 0, 0).Unix(), "d": old.Unix(), "d/f": t0.Unix(),
		"d/s": old.AddDate(1, 0, 0).Unix(), "d/e": old.AddDate(2, 0, 0).Unix(),
		"d/e/g": old.AddDate(3, 0, 0).Unix(),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mtimes (-want +got):\n%s", diff)
	}
}

func TestExtractNeedsExistingDir(t *testing.T) {
	_, err := extract(t, filepath.Join(t.TempDir(), "missing"), tent{name: "f"})
	if !errContains(err, "extracting into") {
		t.Errorf("Extract into a missing directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Extract created the missing directory")
	}
}
