package compat

import (
	"archive/tar"
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// hdr is a tar entry for layer: a file with content, or what typ says.
type hdr struct {
	name    string
	typ     byte
	mode    int64
	uid     int
	link    string
	content string
}

// layer returns an uncompressed layer tar of the entries.
func layer(t *testing.T, entries ...hdr) *bytes.Reader {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.uid,
			Linkname: e.link}
		if h.Typeflag == 0 {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.content))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(buf.Bytes())
}

// sum is the sha256 of "x".
const sumX = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"

// describe maps a tree to one line per path, for readable diffs.
func describe(tr Tree) map[string]string {
	out := map[string]string{}
	for p, n := range tr {
		out[p] = n.String()
	}
	return out
}

func TestFlattenLayers(t *testing.T) {
	dir := func(name string, mode int64, uid int) hdr {
		return hdr{name: name, typ: tar.TypeDir, mode: mode, uid: uid}
	}
	base := []hdr{
		dir("etc/", 0o755, 0), {name: "etc/passwd", content: "x"},
		dir("opt/", 0o755, 0), dir("opt/a/", 0o755, 0), {name: "opt/a/f", content: "x"},
		{name: "opt/a/g", content: "x"}, dir("srv/", 0o2775, 5), {name: "srv/x", content: "x"},
	}
	tests := []struct {
		name  string
		upper []hdr
		want  map[string]string
	}{{
		name:  "file whiteout",
		upper: []hdr{{name: "etc/.wh.passwd"}},
		want: map[string]string{
			"/etc": "dir 0755 0:0", "/opt": "dir 0755 0:0", "/opt/a": "dir 0755 0:0",
			"/opt/a/f": "reg 0644 0:0 1B 2d711642b726", "/opt/a/g": "reg 0644 0:0 1B 2d711642b726",
			"/srv": "dir 2775 5:5", "/srv/x": "reg 0644 0:0 1B 2d711642b726",
		},
	}, {
		name: "opaque directory keeps the layer's own entries",
		upper: []hdr{{name: "opt/a/new", content: "x"}, {name: "opt/a/.wh..wh..opq"},
			dir("srv/", 0o755, 0)},
		want: map[string]string{
			"/etc":        "dir 0755 0:0",
			"/etc/passwd": "reg 0644 0:0 1B 2d711642b726",
			"/opt":        "dir 0755 0:0",
			"/opt/a":      "dir 0755 0:0",
			"/opt/a/new":  "reg 0644 0:0 1B 2d711642b726",
			"/srv":        "dir 0755 0:0",
			"/srv/x":      "reg 0644 0:0 1B 2d711642b726",
		},
	}, {
		name: "directory replaced by symlink, file by directory, implicit parents",
		upper: []hdr{{name: "opt/a", typ: tar.TypeSymlink, link: "/srv", mode: 0o777},
			dir("etc/passwd/", 0o700, 7), {name: "new/deep/file", content: "x", mode: 0o4755}},
		want: map[string]string{
			"/etc": "dir 0755 0:0", "/etc/passwd": "dir 0700 7:7",
			"/opt": "dir 0755 0:0", "/opt/a": "sym 0777 0:0 -> /srv",
			"/srv": "dir 2775 5:5", "/srv/x": "reg 0644 0:0 1B 2d711642b726",
			"/new": "dir 0755 0:0", "/new/deep": "dir 0755 0:0",
			"/new/deep/file": "reg 4755 0:0 1B 2d711642b726",
		},
	}, {
		name: "hard links share the inode; the link's owner and mode apply to it",
		upper: []hdr{{name: "opt/a/f", content: "x", mode: 0o755},
			{name: "opt/a/f2", typ: tar.TypeLink, link: "opt/a/f", mode: 0o700, uid: 3},
			{name: "etc/.wh.passwd"}, {name: "srv/.wh.x"}},
		want: map[string]string{
			"/etc": "dir 0755 0:0", "/opt": "dir 0755 0:0", "/opt/a": "dir 0755 0:0",
			"/opt/a/f":  "reg 0700 3:3 1B 2d711642b726 links /opt/a/f2",
			"/opt/a/f2": "reg 0700 3:3 1B 2d711642b726 links /opt/a/f",
			"/opt/a/g":  "reg 0644 0:0 1B 2d711642b726", "/srv": "dir 2775 5:5",
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := Tree{}
			if err := tr.ApplyLayer(layer(t, base...)); err != nil {
				t.Fatal(err)
			}
			if err := tr.ApplyLayer(layer(t, tc.upper...)); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, describe(tr)); d != "" {
				t.Errorf("tree (-want +got):\n%s", d)
			}
		})
	}
}

func TestFlattenHardLinkToMissingFile(t *testing.T) {
	tr := Tree{}
	err := tr.ApplyLayer(layer(t, hdr{name: "b", typ: tar.TypeLink, link: "a"}))
	if err == nil {
		t.Fatal("a hard link to a missing file was accepted")
	}
}

func TestDiffTrees(t *testing.T) {
	a := &Node{Type: "reg", Mode: 0o644, Size: 1, SHA256: sumX}
	b := &Node{Type: "reg", Mode: 0o600, Size: 1, SHA256: sumX}
	got := DiffTrees(Tree{"/same": a, "/mode": a, "/only-got": a},
		Tree{"/same": a, "/mode": b, "/only-want": b})
	want := []PathDiff{
		{Path: "/mode", Got: a, Want: b},
		{Path: "/only-got", Got: a},
		{Path: "/only-want", Want: b},
	}
	if d := cmp.Diff(want, got, cmpopts.IgnoreUnexported(Node{})); d != "" {
		t.Errorf("DiffTrees (-want +got):\n%s", d)
	}
}
