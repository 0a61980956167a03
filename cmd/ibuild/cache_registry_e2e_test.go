package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ibuild/ibuild/internal/testenv"
)

const cacheRegistryDockerfile = `FROM busybox
COPY a.txt /a.txt
RUN --mount=type=cache,target=/cache cat /a.txt >> /cache/log; wc -l < /cache/log > /runs
ENV X=1
`

// TestCacheRegistryTwoRunners builds on one runner with --cache-to and on
// another, with an empty store of its own, with --cache-from: the second
// takes every step from the registry and makes the same image.
func TestCacheRegistryTwoRunners(t *testing.T) {
	reg := testenv.Registry(t)
	testenv.PushBusybox(t, reg, "library/busybox:latest")
	c := newCLI(t)
	ctxDir := c.context(map[string]string{"Dockerfile": cacheRegistryDockerfile,
		"a.txt": "a\n"})
	ref := reg + "/cache/app:ci"
	out := t.TempDir()
	build := func(root, iid string, args ...string) result {
		all := append([]string{"build", "--root", root, "--progress", "plain",
			"--registry-mirror", reg, "--iidfile", filepath.Join(out, iid)}, args...)
		return c.ok(append(all, ctxDir)...)
	}

	a := build(t.TempDir(), "a", "--cache-to", "type=registry,ref="+ref+",mode=max")
	exported := regexp.MustCompile(`#\d+ exporting cache to ` + regexp.QuoteMeta(ref) +
		`\n(.*\n)*#\d+ DONE`)
	if !exported.MatchString(a.stderr) {
		t.Errorf("the first build does not report its cache export:\n%s", a.stderr)
	}
	b := build(t.TempDir(), "b", "--cache-from", "type=registry,ref="+ref)
	for _, step := range []string{"COPY a.txt /a.txt", "RUN --mount=type=cache", "ENV X=1"} {
		re := regexp.MustCompile(`#(\d+) \[\d/\d\] ` + regexp.QuoteMeta(step))
		m := re.FindStringSubmatch(b.stderr)
		if m == nil || !strings.Contains(b.stderr, "#"+m[1]+" CACHED") {
			t.Errorf("second runner: step %q is not CACHED:\n%s", step, b.stderr)
		}
	}
	idA, _ := os.ReadFile(filepath.Join(out, "a"))
	idB, _ := os.ReadFile(filepath.Join(out, "b"))
	if len(idA) == 0 || string(idA) != string(idB) {
		t.Errorf("image IDs differ: first runner %q, second %q", idA, idB)
	}

	missing := reg + "/cache/none:ci"
	r := build(t.TempDir(), "c", "--cache-from", missing)
	if !strings.Contains(r.stderr, "--cache-from "+missing) ||
		!strings.Contains(r.stderr, "building without it") {
		t.Errorf("a missing cache gives no warning:\n%s", r.stderr)
	}
	c.fails(2, []string{`cache type "inline" is not supported`}, "build", "--root",
		t.TempDir(), "--cache-to", "type=inline", ctxDir)
}
