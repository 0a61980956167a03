package builder

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDiffInputs(t *testing.T) {
	in := func(kind, name, value string) cacheInput {
		return cacheInput{Kind: kind, Name: name, Value: value}
	}
	base := []cacheInput{
		in(inParent, "[2/4] COPY a /a", "p1"), in(inInstruction, "", "RUN make"),
		in(inArg, "V", "1"), in(inEnv, "PATH", "/bin"), in(inSetting, "user", ""),
		in(inFile, "src/a.c", "h1"), in(inFile, "src/b.c", "h2"),
	}
	with := func(i int, c cacheInput) []cacheInput {
		out := append([]cacheInput(nil), base...)
		if i == len(out) {
			return append(out, c)
		}
		out[i] = c
		return out
	}
	cases := []struct {
		name          string
		cur           []cacheInput
		parentRebuilt bool
		want          string
	}{
		{name: "parent rebuilt", cur: with(0, in(inParent, "[2/4] COPY a /a", "p2")),
			parentRebuilt: true, want: "the previous step was rebuilt: [2/4] COPY a /a"},
		{name: "parent changed", cur: with(0, in(inParent, "[2/4] COPY a /a", "p2")),
			want: "the previous step changed: [2/4] COPY a /a"},
		{name: "base image", cur: with(0, in(inParent, "FROM x@sha256:2", "p2")),
			want: "base image changed: was [2/4] COPY a /a, now FROM x@sha256:2"},
		{name: "instruction", cur: with(1, in(inInstruction, "", "RUN make all")),
			want: "instruction changed: was RUN make, now RUN make all"},
		{name: "build arg", cur: with(2, in(inArg, "V", "2")),
			want: `build arg V changed (was "1", now "2")`},
		{name: "env added", cur: with(len(base), in(inEnv, "CC", "gcc")),
			want: `environment variable CC added ("gcc")`},
		{name: "setting", cur: with(4, in(inSetting, "user", "app")),
			want: `user changed (was "", now "app")`},
		{name: "file changed", cur: with(6, in(inFile, "src/b.c", "h3")),
			want: "file src/b.c changed"},
		{name: "file removed", cur: base[:6], want: "file src/b.c removed"},
		{name: "file added", cur: with(len(base), in(inFile, "src/c.c", "h4")),
			want: "file src/c.c added"},
		{name: "the parent comes first",
			cur: append(with(0, in(inParent, "[2/4] COPY a /a", "p2")),
				in(inFile, "src/c.c", "h4")),
			parentRebuilt: true, want: "the previous step was rebuilt: [2/4] COPY a /a"},
		{name: "same", cur: base, want: "the inputs look the same as in the earlier build"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := diffInputs(base, tc.cur, tc.parentRebuilt)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestStatCache(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old")
	fresh := filepath.Join(dir, "fresh")
	for _, p := range []string{old, fresh} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hour := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hour, hour); err != nil {
		t.Fatal(err)
	}
	stat := func(p string) *syscall.Stat_t {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return &st
	}
	// The ctime of old is now, too recent to trust: make it look old.
	oldSt := stat(old)
	oldSt.Ctim = syscall.NsecToTimespec(hour.UnixNano())
	sum := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

	c := newStatCache(dir, "/ctx")
	c.store(old, oldSt, sum)
	c.store(fresh, stat(fresh), sum)
	if err := c.save((&buildCache{tmp: dir}).writeFile); err != nil {
		t.Fatal(err)
	}

	c2 := newStatCache(dir, "/ctx")
	type result struct {
		Sum string
		OK  bool
	}
	check := func(name string, p string, st *syscall.Stat_t, want result) {
		t.Helper()
		s, ok := c2.lookup(p, st)
		if diff := cmp.Diff(want, result{s, ok}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	check("old file", old, oldSt, result{sum, true})
	check("fresh file is not remembered", fresh, stat(fresh), result{})
	changed := *oldSt
	changed.Size++
	check("size changed", old, &changed, result{})
	changed = *oldSt
	changed.Mtim.Nsec++
	check("mtime changed", old, &changed, result{})
	changed = *oldSt
	changed.Ino++
	check("inode changed", old, &changed, result{})
}

func TestParseStatLine(t *testing.T) {
	sum := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []struct {
		line string
		ok   bool
	}{
		{"1 2 3 4 5 6 " + sum + " /a b", true},
		{"1 2 3 4 5 6 " + sum + " ", false},
		{"1 2 3 4 5 " + sum + " /a", false},
		{"1 x 3 4 5 6 " + sum + " /a", false},
		{"1 2 3 4 5 6 abc /a", false},
	}
	for _, tc := range cases {
		p, e, ok := parseStatLine(tc.line)
		if ok != tc.ok {
			t.Errorf("%q: ok = %v, want %v", tc.line, ok, tc.ok)
		}
		if ok && (p != "/a b" || e.ino != 2 || e.mode != 6 || e.sum != sum) {
			t.Errorf("%q: got %q %+v", tc.line, p, e)
		}
	}
}
