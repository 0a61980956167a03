package builder

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ibuild/ibuild/internal/testenv"
)

// sharedCase is one of the project's shared acceptance cases kept in
// testdata/cases/<name>: its Dockerfile and context, what its setup.sh
// does (modes, symlinks, archives: what git cannot carry) and what its
// check.sh asserts.
type sharedCase struct {
	name    string
	busybox bool // FROM busybox: needs a registry
	setup   func(t *testing.T, ctx string)
	want    map[string]node
	absent  []string
	// exact, when set, lists everything that must be below that directory.
	exact map[string][]string
}

func TestSharedCopyCases(t *testing.T) {
	own := func(n node, uid, gid int) node { n.UID, n.GID = uid, gid; return n }
	cases := []sharedCase{{
		name: "001-copy-keeps-context-file-modes", busybox: true,
		setup: chmodAll(map[string]uint32{
			"files/f0600.txt": 0o600, "files/f0640.txt": 0o640, "files/f0644.txt": 0o644,
			"files/f0444.txt": 0o444, "files/f0700.sh": 0o700, "files/f0755.sh": 0o755,
			"files/private/inner0604.txt": 0o604, "files/private": 0o750,
		}),
		want: map[string]node{
			"modes/f0600.txt":             {Type: tar.TypeReg, Mode: 0o600, Content: "mode 0600\n"},
			"modes/f0640.txt":             {Type: tar.TypeReg, Mode: 0o640, Content: "mode 0640\n"},
			"modes/f0444.txt":             {Type: tar.TypeReg, Mode: 0o444, Content: "mode 0444\n"},
			"modes/private":               dir(0o750),
			"modes/private/inner0604.txt": reg("mode 0604\n", 0o604),
		},
		absent: []string{"modes/files"},
	}, {
		name: "005-copy-chown-numeric-on-scratch",
		want: map[string]node{
			"images/vm.raw":   own(reg("placeholder for a raw VM image\n", 0o644), 211, 211),
			"tree/a.txt":      own(reg("a\n", 0o644), 1234, 1234),
			"tree/sub":        own(dir(0o755), 1234, 1234),
			"tree/sub/b.txt":  own(reg("b\n", 0o644), 1234, 1234),
			"tree2/a.txt":     own(reg("a\n", 0o644), 1001, 0),
			"tree2/sub":       own(dir(0o755), 1001, 0),
			"tree2/sub/b.txt": own(reg("b\n", 0o644), 1001, 0),
		},
	}, {
		name: "010-dockerignore-star-with-exception", busybox: true,
		want:  map[string]node{"app/dist/service.bin": reg("service binary\n", 0o644)},
		exact: map[string][]string{"app": {"dist", "dist/service.bin"}},
	}, {
		name: "015-copy-symlink-sources", busybox: true,
		setup: symlinks(map[string]string{
			"realdir/rel-link": "a.txt", "realdir/abs-link": "/etc/hostname",
			"linkdir": "realdir", "linkfile": "realdir/a.txt",
		}),
		want: map[string]node{
			"viadir/a.txt":    reg("real content\n", 0o644),
			"viadir/rel-link": symlink("a.txt"),
			"single.txt":      reg("real content\n", 0o644),
			"whole/a.txt":     reg("real content\n", 0o644),
			"whole/rel-link":  symlink("a.txt"),
			"whole/abs-link":  symlink("/etc/hostname"),
		},
		absent: []string{"viadir/linkdir", "viadir/realdir"},
	}, {
		name: "018-copy-file-dest-existing-dir-or-new-file", busybox: true,
		want: map[string]node{
			"opt/conf.d":              dir(0),
			"opt/conf.d/settings.ini": reg("[main]\n", 0),
			"opt/settings-copy.ini":   reg("[main]\n", 0),
			"etc/demo/settings.ini":   reg("[main]\n", 0),
		},
	}, {
		name: "022-add-local-archives", busybox: true,
		setup: writeCase022Archives,
		want: map[string]node{
			"target":                    dir(0o755),
			"target/plain-dir":          own(dir(0o750), 1234, 5678),
			"target/plain-dir/file.txt": own(reg("from plain tar\n", 0o640), 1234, 5678),
			"target/plain-dir/link":     own(symlink("file.txt"), 1234, 5678),
			"multi/gzdir/hello.txt":     reg("gzip member\n", 0),
			"multi/bzdir/hello.txt":     reg("bzip2 member\n", 0),
			"fake/fake.tar.gz":          reg("this is not an archive\n", 0),
			"owned/o.txt":               own(reg("owned\n", 0), 42, 43),
		},
		absent: []string{"copied/kept.txt"},
	}}

	var (
		once   sync.Once
		mirror string
		merr   error
	)
	getMirror := func(sub *testing.T) string {
		once.Do(func() {
			var stop func()
			mirror, stop, merr = testenv.StartRegistry()
			if merr == nil {
				t.Cleanup(stop)
				testenv.PushBusybox(sub, mirror, "library/busybox:latest")
			}
		})
		testenv.Check(sub, merr)
		return mirror
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctxDir := t.TempDir()
			src := filepath.Join("testdata", "cases", tc.name)
			if err := copyTree(filepath.Join(src, "context"), ctxDir); err != nil {
				t.Fatal(err)
			}
			if tc.setup != nil {
				tc.setup(t, ctxDir)
			}
			df, err := os.ReadFile(filepath.Join(src, "Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			var mirrors []string
			if tc.busybox {
				mirrors = []string{getMirror(t)}
			}
			img, err := buildImage(t, ctxDir, string(df), func(o *Options) {
				o.Registry.Mirrors = mirrors
			})
			if err != nil {
				t.Fatal(err)
			}
			tree := flatten(t, img)
			checkTree(t, tree, tc.want, tc.absent)
			for d, want := range tc.exact {
				if got := below(tree, d); strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("below /%s: %q, want exactly %q", d, got, want)
				}
			}
		})
	}
}

func below(tree map[string]node, d string) []string {
	var out []string
	for p := range tree {
		if strings.HasPrefix(p, d+"/") {
			out = append(out, strings.TrimPrefix(p, d+"/"))
		}
	}
	sort.Strings(out)
	return out
}

func chmodAll(modes map[string]uint32) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		for p, m := range modes {
			if err := syscall.Chmod(filepath.Join(dir, p), m); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func symlinks(links map[string]string) func(*testing.T, string) {
	return func(t *testing.T, dir string) {
		for p, target := range links {
			if err := os.Symlink(target, filepath.Join(dir, p)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// writeCase022Archives writes the archives of case 022 as its setup.sh
// does (bz.tar.bz2 is committed: Go has no bzip2 writer).
func writeCase022Archives(t *testing.T, dir string) {
	plain := makeTar(t, []tarEntry{
		{name: "./", typ: tar.TypeDir, mode: 0o700},
		{name: "plain-dir/", typ: tar.TypeDir, mode: 0o750, uid: 1234, gid: 5678},
		{name: "plain-dir/file.txt", data: "from plain tar\n", mode: 0o640, uid: 1234, gid: 5678},
		{name: "plain-dir/link", typ: tar.TypeSymlink, link: "file.txt", mode: 0o777,
			uid: 1234, gid: 5678},
	})
	writeBytes(t, dir, "plain.tar", plain)
	gz := makeTar(t, []tarEntry{
		{name: "gzdir/", typ: tar.TypeDir, mode: 0o755},
		{name: "gzdir/hello.txt", data: "gzip member\n", mode: 0o644},
	})
	var buf strings.Builder
	zw := gzip.NewWriter(&buf)
	zw.Write(gz)
	zw.Close()
	writeBytes(t, dir, "gz.tar.gz", []byte(buf.String()))
	writeBytes(t, dir, "fake.tar.gz", []byte("this is not an archive\n"))
	writeBytes(t, dir, "keep.tar", makeTar(t, []tarEntry{{name: "kept.txt", data: "kept\n",
		mode: 0o644}}))
	writeBytes(t, dir, "owned.tar", makeTar(t, []tarEntry{{name: "o.txt", data: "owned\n",
		mode: 0o644, uid: 7, gid: 8}}))
}
