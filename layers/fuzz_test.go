//go:build linux

package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in testdata/fuzz")

// fuzzSeeds are archives that reach every path of Extract, attacks included.
func fuzzSeeds(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"types": makeTar(t,
			tent{name: "d/", typ: tar.TypeDir, mode: 0o1777},
			tent{name: "d/f", body: "x", mode: 0o4755, uid: 1, gid: 2,
				xattrs: map[string]string{"user.a": "b"}},
			tent{name: "d/s", typ: tar.TypeSymlink, link: "f"},
			tent{name: "d/h", typ: tar.TypeLink, link: "d/f"},
			tent{name: "p", typ: tar.TypeFifo},
			tent{name: "c", typ: tar.TypeChar, major: 1, minor: 3}),
		"whiteouts": makeTar(t,
			tent{name: ".wh.a"}, tent{name: "b/.wh..wh..opq"}, tent{name: ".wh..wh.plnk/x"}),
		"dotdot": makeTar(t, tent{name: "../sentinel/victim", body: "pwned"}),
		"symlink-parent": makeTar(t,
			tent{name: "up", typ: tar.TypeSymlink, link: "../sentinel"},
			tent{name: "up/victim", body: "pwned"}),
		"hardlink-out": makeTar(t,
			tent{name: "s", typ: tar.TypeSymlink, link: "../sentinel"},
			tent{name: "h", typ: tar.TypeLink, link: "s/victim"}),
		"replace": makeTar(t,
			tent{name: "x/y/z", body: "1"}, tent{name: "x", body: "2"},
			tent{name: "x/", typ: tar.TypeDir}),
		"truncated": makeTar(t, tent{name: "f", body: "ab", size: 100}),
	}
}

// FuzzExtract checks that no archive, however malformed, makes Extract
// panic or change anything outside the root.
func FuzzExtract(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	// One sentinel per worker: creating directories is most of the cost,
	// and on tmpfs (where there is one) far less than on ext4.
	s := newSentinel(f, fuzzBase(f))
	f.Fuzz(func(t *testing.T, data []byte) {
		root, err := os.MkdirTemp(s.base, "root-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(root)
		Extract(context.Background(), bytes.NewReader(data), root, ExtractOptions{})
		s.check(t, filepath.Base(root))
	})
}

// TestFuzzSeedCorpus keeps testdata/fuzz/FuzzExtract in step with
// fuzzSeeds; run with -update to rewrite it.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzExtract")
	for name, seed := range fuzzSeeds(t) {
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seed)
		p := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Errorf("%s is stale or missing (%v); run go test -run TestFuzzSeedCorpus -update", p, err)
		}
	}
}

// fuzzBase is a scratch directory for FuzzExtract, on /dev/shm when it is
// there.
func fuzzBase(f *testing.F) string {
	dir, err := os.MkdirTemp("/dev/shm", "fuzzextract-")
	if err != nil {
		return f.TempDir()
	}
	f.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
