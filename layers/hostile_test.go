//go:build linux

package layers

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExtractHostile feeds Extract the archives a hostile image would use
// to write outside the root. Each one must fail or stay inside the root,
// and the sentinel directory beside the root must not change.
func TestExtractHostile(t *testing.T) {
	type check func(t *testing.T, root, sentinel string)
	inRoot := func(rel, body string) check {
		return func(t *testing.T, root, sentinel string) {
			rel = strings.ReplaceAll(rel, "SENTINEL", strings.TrimPrefix(sentinel, "/"))
			b, err := os.ReadFile(filepath.Join(root, rel))
			if err != nil || string(b) != body {
				t.Errorf("%s in root: %q, %v; want %q", rel, b, err, body)
			}
		}
	}
	tests := []struct {
		name    string
		ents    func(sentinel string) []tent
		wantErr string
		check   check
	}{{
		name:    "dot-dot name",
		ents:    one(tent{name: "../sentinel/victim", body: "pwned"}),
		wantErr: "climbs out of the root",
	}, {
		name:    "dot-dot deep in name",
		ents:    one(tent{name: "a/b/../../../sentinel/new", body: "pwned"}),
		wantErr: "climbs out of the root",
	}, {
		name:    "dot-dot directory",
		ents:    one(tent{name: "../sentinel/dir/", typ: tar.TypeDir, mode: 0o777}),
		wantErr: "climbs out of the root",
	}, {
		name: "absolute name is contained",
		ents: func(s string) []tent {
			return []tent{{name: s + "/victim", body: "contained"}}
		},
		check: inRoot("SENTINEL/victim", "contained"),
	}, {
		name: "absolute symlink parent",
		ents: func(s string) []tent {
			return []tent{
				{name: "evil", typ: tar.TypeSymlink, link: s},
				{name: "evil/victim", body: "pwned"},
			}
		},
		wantErr: "symlink that leads to no directory",
	}, {
		name: "relative symlink parent",
		ents: func(s string) []tent {
			return []tent{
				{name: "evil", typ: tar.TypeSymlink, link: "../sentinel"},
				{name: "evil/victim", body: "pwned"},
			}
		},
		wantErr: "symlink that leads to no directory",
	}, {
		name: "symlink parent climbing to the root is contained",
		ents: func(s string) []tent {
			return []tent{
				{name: "a/", typ: tar.TypeDir},
				{name: "a/up", typ: tar.TypeSymlink, link: "../../../../.."},
				{name: "a/up/sentinel/victim", body: "contained"},
			}
		},
		check: inRoot("sentinel/victim", "contained"),
	}, {
		name: "symlink chain parent",
		ents: func(s string) []tent {
			return []tent{
				{name: "one", typ: tar.TypeSymlink, link: "two"},
				{name: "two", typ: tar.TypeSymlink, link: s + "/dir"},
				{name: "one/x", body: "pwned"},
			}
		},
		wantErr: "symlink that leads to no directory",
	}, {
		name: "symlink loop parent",
		ents: one(
			tent{name: "loop", typ: tar.TypeSymlink, link: "loop"},
			tent{name: "loop/x", body: "x"},
		),
		wantErr: "too many levels of symbolic links",
	}, {
		name: "file replaces a symlink instead of following it",
		ents: func(s string) []tent {
			return []tent{
				{name: "victim", typ: tar.TypeSymlink, link: s + "/victim"},
				{name: "victim", body: "replaced"},
			}
		},
		check: inRoot("victim", "replaced"),
	}, {
		name: "directory replaces a symlink instead of following it",
		ents: func(s string) []tent {
			return []tent{
				{name: "d", typ: tar.TypeSymlink, link: s + "/dir"},
				{name: "d/", typ: tar.TypeDir, mode: 0o777},
				{name: "d/f", body: "inside"},
			}
		},
		check: inRoot("d/f", "inside"),
	}, {
		name: "metadata through a symlink",
		ents: func(s string) []tent {
			return []tent{
				{name: "s", typ: tar.TypeSymlink, link: s + "/victim", mode: 0o777, uid: 99},
				{name: "s", typ: tar.TypeSymlink, link: s + "/victim",
					xattrs: map[string]string{"trusted.pwn": "1"}},
			}
		},
	}, {
		name:    "hard link out by dot-dot",
		ents:    one(tent{name: "h", typ: tar.TypeLink, link: "../sentinel/victim"}),
		wantErr: "climbs out of the root",
	}, {
		name: "hard link by absolute name stays inside",
		ents: func(s string) []tent {
			return []tent{{name: "h", typ: tar.TypeLink, link: s + "/victim"}}
		},
		wantErr: "no such file",
	}, {
		name: "hard link through a symlinked parent",
		ents: func(s string) []tent {
			return []tent{
				{name: "s", typ: tar.TypeSymlink, link: s},
				{name: "h", typ: tar.TypeLink, link: "s/victim"},
			}
		},
		wantErr: "too many levels of symbolic links",
	}, {
		name: "hard link through an inside symlink",
		ents: one(
			tent{name: "d/f", body: "x"},
			tent{name: "s", typ: tar.TypeSymlink, link: "d"},
			tent{name: "h", typ: tar.TypeLink, link: "s/f"},
		),
		wantErr: "too many levels of symbolic links",
	}, {
		name: "hard link to a symlink links the symlink",
		ents: func(s string) []tent {
			return []tent{
				{name: "s", typ: tar.TypeSymlink, link: s + "/victim"},
				{name: "h", typ: tar.TypeLink, link: "s"},
				{name: "h", body: "replaced"},
			}
		},
		check: inRoot("h", "replaced"),
	}, {
		name: "hard link to a directory",
		ents: one(
			tent{name: "d/", typ: tar.TypeDir},
			tent{name: "h", typ: tar.TypeLink, link: "d"},
		),
		wantErr: "is a directory",
	}, {
		name:    "whiteout of the parent",
		ents:    one(tent{name: "a/.wh..", body: ""}),
		wantErr: "names no file",
	}, {
		name:    "whiteout of dot",
		ents:    one(tent{name: "a/.wh.", body: ""}),
		wantErr: "names no file",
	}, {
		name: "whiteout through a symlinked parent",
		ents: func(s string) []tent {
			return []tent{
				{name: "evil", typ: tar.TypeSymlink, link: s},
				{name: "evil/.wh.victim"},
			}
		},
		wantErr: "symlink that leads to no directory",
	}, {
		name: "whiteout of a symlink removes the link only",
		ents: func(s string) []tent {
			return []tent{
				{name: "evil", typ: tar.TypeSymlink, link: s + "/dir"},
				{name: ".wh.evil"},
			}
		},
	}, {
		name: "opaque through a symlink",
		ents: func(s string) []tent {
			return []tent{
				{name: "evil", typ: tar.TypeSymlink, link: s + "/dir"},
				{name: "evil/.wh..wh..opq"},
			}
		},
		wantErr: "symlink that leads to no directory",
	}, {
		name: "overlay xattrs are not taken",
		ents: one(tent{name: "d/", typ: tar.TypeDir, xattrs: map[string]string{
			"trusted.overlay.redirect": "/sentinel", "user.overlay.metacopy": "",
		}}),
	}, {
		name:    "root replaced by a symlink",
		ents:    one(tent{name: "./", typ: tar.TypeSymlink, link: "/"}),
		wantErr: "the root must be a directory",
	}, {
		name:    "owner that wraps to root",
		ents:    one(tent{name: "f", body: "x", uid: 1 << 32}),
		wantErr: "out of range",
	}, {
		name:    "owner -1",
		ents:    one(tent{name: "f", body: "x", gid: -1}),
		wantErr: "out of range",
	}, {
		name:    "truncated file",
		ents:    one(tent{name: "f", body: "short", size: 4096}),
		wantErr: "unexpected EOF",
	}, {
		name:    "absurd size",
		ents:    one(tent{name: "f", body: "x", size: 1 << 60}),
		wantErr: "bytes free",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, sentinel, check := jail(t)
			_, err := extract(t, root, tt.ents(sentinel)...)
			if !errContains(err, tt.wantErr) {
				t.Errorf("Extract error %v, want %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, root, sentinel)
			}
			check()
		})
	}
}

// one returns entries that do not depend on the sentinel's path.
func one(ents ...tent) func(string) []tent {
	return func(string) []tent { return ents }
}
