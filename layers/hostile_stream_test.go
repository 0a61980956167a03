//go:build linux

package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestExtractHostileEntries covers the hostile entries TestExtractHostile
// does not: duplicates that would write through a link, whiteouts naming
// parents, names and nesting beyond what the kernel resolves, lying sizes.
// Each one fails or stays inside the root, and the sentinel never changes.
func TestExtractHostileEntries(t *testing.T) {
	deep := strings.Repeat("d/", 1500) // 3000 bytes: inside PATH_MAX
	deeper := strings.Repeat("d/", 3000)
	tests := []struct {
		name    string
		ents    func(sentinel string) []tent
		wantErr string
		want    map[string]node // a subset of the tree, when set
	}{{
		name: "file after a hard link of the same name does not write through it",
		ents: one(
			tent{name: "f", body: "original"},
			tent{name: "h", typ: tar.TypeLink, link: "f"},
			tent{name: "h", body: "replaced"},
		),
		want: map[string]node{"f": fileNode("original", 0o644), "h": fileNode("replaced", 0o644)},
	}, {
		name: "hard link replacing a file of the same name",
		ents: one(
			tent{name: "f", body: "original"},
			tent{name: "g", body: "other"},
			tent{name: "g", typ: tar.TypeLink, link: "f"},
			tent{name: "g", body: "third"},
		),
		want: map[string]node{"f": fileNode("original", 0o644), "g": fileNode("third", 0o644)},
	}, {
		name: "hard link to a symlink pointing out is a link to the symlink",
		ents: func(s string) []tent {
			return []tent{
				{name: "s", typ: tar.TypeSymlink, link: s + "/victim"},
				{name: "h", typ: tar.TypeLink, link: "s"},
				{name: "h/x", body: "pwned"},
			}
		},
		wantErr: "symlink that leads to no directory",
	}, {
		name: "hard link named like its own target",
		ents: one(tent{name: "f", body: "x"}, tent{name: "f", typ: tar.TypeLink, link: "./f"}),
		want: map[string]node{"f": fileNode("x", 0o644)},
	}, {
		name: "the same directory many times keeps its contents",
		ents: func(string) []tent {
			ents := []tent{{name: "d/keep", body: "k"}}
			for range 200 {
				ents = append(ents, tent{name: "d/", typ: tar.TypeDir})
			}
			return ents
		},
		want: map[string]node{"d/keep": fileNode("k", 0o644)},
	}, {
		name:    "whiteout of the parent at the root",
		ents:    one(tent{name: ".wh.."}),
		wantErr: "names no file",
	}, {
		name:    "whiteout of dot-dot",
		ents:    one(tent{name: "a/.wh..."}),
		wantErr: "names no file",
	}, {
		name:    "whiteout climbing through dot-dot",
		ents:    one(tent{name: "a/../../.wh.sentinel"}),
		wantErr: "climbs out of the root",
	}, {
		name:    "opaque marker climbing through dot-dot",
		ents:    one(tent{name: "../sentinel/.wh..wh..opq"}),
		wantErr: "climbs out of the root",
	}, {
		name: "whiteout under a symlink to the root's parent",
		ents: one(
			tent{name: "up", typ: tar.TypeSymlink, link: ".."},
			tent{name: "up/sentinel/.wh.victim"},
		),
		// The link resolves to the root itself: the whiteout lands inside.
		want: map[string]node{"sentinel/victim": whiteoutNode},
	}, {
		name: "directory nested 1500 levels",
		ents: one(tent{name: deep + "f", body: "deep"}),
		want: map[string]node{deep + "f": fileNode("deep", 0o644)},
	}, {
		name:    "directory nested beyond PATH_MAX",
		ents:    one(tent{name: deeper + "f", body: "deep"}),
		wantErr: "file name too long",
	}, {
		name:    "name component beyond NAME_MAX",
		ents:    one(tent{name: strings.Repeat("n", 300), body: "x"}),
		wantErr: "file name too long",
	}, {
		name:    "file whose size exceeds the stream",
		ents:    one(tent{name: "big", body: "tiny", size: 1 << 40}),
		wantErr: "bytes free",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, sentinel, check := jail(t)
			_, err := extract(t, root, tt.ents(sentinel)...)
			if !errContains(err, tt.wantErr) {
				t.Errorf("Extract error %v, want %q", err, tt.wantErr)
			}
			if tt.want != nil {
				tree := snapshot(t, root)
				got := map[string]node{}
				for p := range tt.want {
					got[p] = tree[p]
				}
				if diff := cmp.Diff(tt.want, got, ignoreMtime); diff != "" {
					t.Errorf("tree (-want +got):\n%s", diff)
				}
			}
			check()
		})
	}
}

// TestExtractMalformedHeaders feeds headers the tar reader must refuse.
func TestExtractMalformedHeaders(t *testing.T) {
	valid := makeTar(t, tent{name: "f", body: "x"})
	tests := []struct {
		name  string
		spoil func([]byte) []byte
	}{{
		name:  "negative size",
		spoil: func(b []byte) []byte { copy(b[124:], "-0000000001\x00"); fixChecksum(b); return b },
	}, {
		name:  "bad checksum",
		spoil: func(b []byte) []byte { b[0] ^= 1; return b },
	}, {
		name:  "cut in the header",
		spoil: func(b []byte) []byte { return b[:300] },
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, _, check := jail(t)
			data := tt.spoil(bytes.Clone(valid))
			err := Extract(context.Background(), bytes.NewReader(data), root, ExtractOptions{})
			if err == nil {
				t.Error("Extract accepted a malformed header")
			}
			check()
		})
	}
}

// TestUnpackHostileStreams checks that a corrupt or truncated compressed
// stream, in either compression, fails the unpack with an error naming the
// layer and leaves nothing behind: no unpacked tree, no scratch files.
func TestUnpackHostileStreams(t *testing.T) {
	tests := []struct {
		name    string
		c       Compression
		spoil   func(b []byte) []byte
		wantErr string
	}{
		{"truncated gzip", Gzip, func(b []byte) []byte { return b[:len(b)/2] }, "unexpected EOF"},
		{"truncated zstd", Zstd, func(b []byte) []byte { return b[:len(b)/2] }, "unpacking layer"},
		{"corrupt zstd", Zstd, func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }, "unpacking layer"},
		{"zstd magic only", Zstd, func(b []byte) []byte { return b[:4] }, "unpacking layer"},
		{"gzip trailer cut", Gzip, func(b []byte) []byte { return b[:len(b)-4] }, "unpacking layer"},
		{"empty blob", Gzip, func(b []byte) []byte { return nil }, "unpacking layer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			big := tent{name: "big", body: strings.Repeat("incompressible? no. ", 100000)}
			d, _ := writeTestLayer(t, s, tt.c, append([]tent{big}, layerEnts...)...)
			p := s.BlobPath(d.Digest)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			b = tt.spoil(b)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
			d.Size = int64(len(b))
			l, err := s.Layer(d)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Unpack(context.Background(), l)
			if !errContains(err, tt.wantErr) || !errContains(err, d.DiffID.String()) {
				t.Errorf("Unpack error %v, want %q naming %s", err, tt.wantErr, d.DiffID)
			}
			if _, err := os.Lstat(s.UnpackedPath(d.DiffID)); err == nil {
				t.Error("a bad layer was left unpacked")
			}
			assertEmpty(t, filepath.Join(s.Root, "tmp"))
		})
	}
}

// TestDiffUpperLowerSymlinks has a step put a directory where the layers
// below have a symlink to a host directory, with a file exactly like one
// there. Comparing with the layers below must not follow the symlink: the
// host file is never read, so the step's file is in the layer.
func TestDiffUpperLowerSymlinks(t *testing.T) {
	host, lower, upper := t.TempDir(), t.TempDir(), t.TempDir()
	mt := time.Unix(1700000000, 0)
	for _, dir := range []string{host, filepath.Join(upper, "lib")} {
		must(t, os.MkdirAll(dir, 0o755))
		must(t, os.WriteFile(filepath.Join(dir, "probe"), []byte("guess"), 0o644))
		must(t, os.Chtimes(filepath.Join(dir, "probe"), mt, mt))
	}
	must(t, os.Symlink(host, filepath.Join(lower, "lib")))
	must(t, os.MkdirAll(filepath.Join(lower, "rel"), 0o755))
	must(t, os.Symlink("../../../../../../../../"+host, filepath.Join(lower, "rel", "lib")))
	must(t, os.MkdirAll(filepath.Join(upper, "rel", "lib"), 0o755))
	must(t, os.WriteFile(filepath.Join(upper, "rel", "lib", "probe"), []byte("guess"), 0o644))
	must(t, os.Chtimes(filepath.Join(upper, "rel", "lib", "probe"), mt, mt))
	got := diffEntries(t, upper, lower)
	for _, want := range []string{"lib/probe 0", "rel/lib/probe 0"} {
		if !slices.Contains(got, want) {
			t.Errorf("entries %q lack %q: the host file was compared", got, want)
		}
	}
}
