package builder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// cachedStep is one reported step of a build: its name, whether it came
// from the cache, and its status lines.
type cachedStep struct {
	name   string
	cached bool
	status []string
}

// cacheRig builds one Dockerfile again and again into one store.
type cacheRig struct {
	t          *testing.T
	root, dir  string
	dockerfile string
	base       func(*Options)
}

func newCacheRig(t *testing.T, dockerfile string, files []ctxFile, base func(*Options)) *cacheRig {
	r := &cacheRig{t: t, root: t.TempDir(), dir: t.TempDir(), dockerfile: dockerfile,
		base: base}
	writeContext(t, r.dir, files)
	// Files this old are remembered by the stat cache (see racyWindow).
	old := time.Now().Add(-time.Hour)
	filepath.Walk(r.dir, func(p string, _ os.FileInfo, _ error) error {
		return os.Chtimes(p, old, old)
	})
	return r
}

// build runs a build, stores the image as the CLI does, and returns the
// image digest and the steps in order.
func (r *cacheRig) build(tweak func(*Options)) (v1.Hash, []cachedStep) {
	d, steps, _ := r.buildImage(tweak)
	return d, steps
}

func (r *cacheRig) buildImage(tweak func(*Options)) (v1.Hash, []cachedStep, v1.Image) {
	r.t.Helper()
	rec := &stepRecorder{byNum: map[int]int{}}
	opts := Options{
		ContextDir: r.dir, Dockerfile: []byte(r.dockerfile),
		DockerfilePath: filepath.Join(r.dir, "Dockerfile"), Root: r.root,
		Progress: rec.event,
	}
	if r.base != nil {
		r.base(&opts)
	}
	if tweak != nil {
		tweak(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Build(ctx, opts)
	if err != nil {
		r.t.Fatalf("build: %v", err)
	}
	d, err := Export(ctx, res.Image, ExportOptions{Root: r.root})
	if err != nil {
		r.t.Fatal(err)
	}
	return d, rec.steps, res.Image
}

// stepRecorder collects the steps of a build from its progress events.
type stepRecorder struct {
	mu    sync.Mutex
	steps []cachedStep
	byNum map[int]int
}

func (r *stepRecorder) event(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e.Kind {
	case StepStarted:
		r.byNum[e.Step] = len(r.steps)
		r.steps = append(r.steps, cachedStep{name: e.Name})
	case StepStatus:
		i := r.byNum[e.Step]
		r.steps[i].status = append(r.steps[i].status, e.Name)
	case StepDone:
		r.steps[r.byNum[e.Step]].cached = e.Cached
	}
}

// pattern is one letter per step: C cached, R rebuilt.
func pattern(steps []cachedStep) string {
	var b strings.Builder
	for _, s := range steps {
		if s.cached {
			b.WriteByte('C')
		} else {
			b.WriteByte('R')
		}
	}
	return b.String()
}

// statusOf returns the cache-miss lines of the step whose name contains
// text.
func statusOf(steps []cachedStep, text string) []string {
	for _, s := range steps {
		if strings.Contains(s.name, text) {
			var out []string
			for _, st := range s.status {
				if strings.HasPrefix(st, "cache miss: ") {
					out = append(out, st)
				}
			}
			return out
		}
	}
	return nil
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const scratchCopies = `FROM scratch
COPY a /a
COPY b /b
ENV X=1
COPY . /all/
LABEL l=1
`

var scratchFiles = []ctxFile{{path: "a", content: "a"}, {path: "b", content: "b"},
	{path: "ignored.txt", content: "i"}, {path: "sub/c", content: "c"},
	{path: ".dockerignore", content: "ignored.txt\n"}}

// TestCacheRebuild builds, changes the context or the options, and builds
// again: only the steps whose inputs changed (and the steps after them on
// the same chain) run again.
func TestCacheRebuild(t *testing.T) {
	cases := []struct {
		name       string
		dockerfile string
		files      []ctxFile
		busybox    bool
		change     func(t *testing.T, dir string)
		tweak      func(*Options)
		want       string // steps of the second build, C cached, R rebuilt
		same       bool   // the second image has the first one's digest
		reason     string // part of the cache-miss line of step `reasonOf`
		reasonOf   string
		check      func(t *testing.T, img v1.Image)
		secret     bool // both builds get the secret s from secretVar
	}{
		{name: "nothing changed", dockerfile: scratchCopies, files: scratchFiles,
			want: "CCCCCC", same: true},
		{name: "one file changed", dockerfile: scratchCopies, files: scratchFiles,
			change: func(t *testing.T, dir string) { writeFile(t, dir, "b", "B") },
			want:   "CCRRRR", reason: "file b changed", reasonOf: "COPY b"},
		{name: "a file in a copied directory changed", dockerfile: scratchCopies,
			files:  scratchFiles,
			change: func(t *testing.T, dir string) { writeFile(t, dir, "sub/c", "C") },
			want:   "CCCCRR", reason: "file sub/c changed", reasonOf: "COPY . /all/"},
		{name: "a file was added", dockerfile: scratchCopies, files: scratchFiles,
			change: func(t *testing.T, dir string) { writeFile(t, dir, "sub/d", "d") },
			want:   "CCCCRR", reason: "file sub/d added", reasonOf: "COPY . /all/"},
		{name: "a file was removed", dockerfile: scratchCopies, files: scratchFiles,
			change: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "sub/c")) },
			want:   "CCCCRR", reason: "file sub/c removed", reasonOf: "COPY . /all/"},
		{name: "a mode changed", dockerfile: scratchCopies, files: scratchFiles,
			change: func(t *testing.T, dir string) { os.Chmod(filepath.Join(dir, "a"), 0o600) },
			want:   "CRRRRR", reason: "file a changed", reasonOf: "COPY a"},
		{name: "an ignored file changed", dockerfile: scratchCopies, files: scratchFiles,
			change: func(t *testing.T, dir string) { writeFile(t, dir, "ignored.txt", "I") },
			want:   "CCCCCC", same: true},
		{name: "only the time of a file changed", dockerfile: scratchCopies,
			files: scratchFiles,
			change: func(t *testing.T, dir string) {
				now := time.Now()
				os.Chtimes(filepath.Join(dir, "a"), now, now)
			},
			want: "CCCCCC", same: true},
		{name: "instruction changed", dockerfile: scratchCopies, files: scratchFiles,
			tweak: func(o *Options) {
				o.Dockerfile = []byte(strings.Replace(scratchCopies, "ENV X=1", "ENV X=2", 1))
			},
			want: "CCCRCC", reason: "instruction changed: was ENV X=1, now ENV X=2",
			reasonOf: "ENV X"},
		{name: "no cache", dockerfile: scratchCopies, files: scratchFiles,
			tweak: func(o *Options) { o.NoCache = true }, want: "RRRRRR"},
		{name: "build arg changes only the RUN steps after its ARG",
			dockerfile: "FROM busybox\nARG V=1\nCOPY a /a\nRUN echo $V > /v\nCOPY b /b\n",
			files:      []ctxFile{{path: "a", content: "a"}, {path: "b", content: "b"}},
			busybox:    true,
			tweak:      func(o *Options) { o.BuildArgs = map[string]string{"V": "2"} },
			want:       "CRCRR", reason: `build arg V changed (was "1", now "2")`,
			reasonOf: "RUN echo"},
		{name: "a proxy arg without ARG does not count",
			dockerfile: "FROM busybox\nRUN echo hi > /v\n", busybox: true,
			tweak: func(o *Options) {
				o.BuildArgs = map[string]string{"HTTP_PROXY": "http://127.0.0.1:1"}
			},
			want: "CC", same: true},
		{name: "a bind-mounted context file changed",
			dockerfile: "FROM busybox\n" +
				"RUN --mount=type=bind,source=m,target=/m cat /m/f > /out\nCOPY a /a\n",
			files:   []ctxFile{{path: "a", content: "a"}, {path: "m/f", content: "f"}},
			busybox: true,
			change:  func(t *testing.T, dir string) { writeFile(t, dir, "m/f", "F") },
			want:    "CRR", reason: "file m/f changed", reasonOf: "RUN --mount",
			check: func(t *testing.T, img v1.Image) {
				checkTree(t, flatten(t, img), map[string]node{"out": reg("F", 0o644)}, nil)
			}},
		{name: "a secret's content does not count",
			dockerfile: "FROM busybox\nRUN --mount=type=secret,id=s,required cat /run/secrets/s\n",
			busybox:    true, secret: true,
			change: func(t *testing.T, dir string) { t.Setenv(secretVar, "two") },
			want:   "CC", same: true},
		{name: "a deleted file stays deleted", dockerfile: case007, busybox: true,
			want: "CCCCCCC", same: true, check: func(t *testing.T, img v1.Image) {
				checkTree(t, flatten(t, img), map[string]node{
					"data/items/beta.txt":  reg("beta\n", 0o644),
					"data/items/gamma.txt": reg("gamma\n", 0o644),
				}, []string{"data/items/alpha.txt", "scratch"})
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var base func(*Options)
			if tc.busybox {
				base = withBusybox(t, nil)
			}
			if tc.secret {
				t.Setenv(secretVar, "one")
				base = withBusybox(t, func(o *Options) {
					o.Secrets = map[string]Secret{"s": {Env: secretVar}}
				})
			}
			r := newCacheRig(t, tc.dockerfile, tc.files, base)
			first, _ := r.build(nil)
			if tc.change != nil {
				tc.change(t, r.dir)
			}
			second, steps, img := r.buildImage(tc.tweak)
			if tc.check != nil {
				tc.check(t, img)
			}
			if diff := cmp.Diff(tc.want, pattern(steps)); diff != "" {
				t.Errorf("steps (-want +got):\n%s\n%v", diff, steps)
			}
			if (first == second) != tc.same {
				t.Errorf("digest %s after %s: same = %v, want %v", second, first,
					first == second, tc.same)
			}
			if tc.reasonOf != "" {
				got := statusOf(steps, tc.reasonOf)
				if len(got) != 1 || !strings.Contains(got[0], tc.reason) {
					t.Errorf("cache miss of %q: %q, want one naming %q", tc.reasonOf, got,
						tc.reason)
				}
			}
		})
	}
}

const secretVar = "IBUILD_CACHE_TEST_SECRET"

const case007 = `FROM busybox AS base
RUN mkdir -p /data/items && echo alpha > /data/items/alpha.txt && echo beta > /data/items/beta.txt
RUN rm /data/items/alpha.txt
RUN mkdir -p /scratch/tmp && echo x > /scratch/tmp/obj
RUN rm -rf /scratch

FROM base
RUN echo gamma > /data/items/gamma.txt
`
