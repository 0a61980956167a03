package builder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ibuild/ibuild/internal/testenv"
)

// byName maps the steps of a build (stages may run in any order) to
// whether each came from the cache.
func byName(steps []cachedStep) map[string]bool {
	out := map[string]bool{}
	for _, s := range steps {
		out[s.name] = s.cached
	}
	return out
}

// TestCacheStageOptions covers --no-cache-filter and --pull, whose effect
// depends on the stage.
func TestCacheStageOptions(t *testing.T) {
	const sameLayer = `FROM scratch AS a
COPY a /a
FROM scratch
COPY --from=a /a /x
COPY b /b
`
	const newLayer = `FROM busybox AS r
RUN cat /proc/sys/kernel/random/uuid > /id
FROM scratch
COPY --from=r /id /id
COPY b /b
`
	files := []ctxFile{{path: "a", content: "a"}, {path: "b", content: "b"}}
	cases := []struct {
		name       string
		dockerfile string
		tweak      func(*Options)
		want       map[string]bool
	}{
		{name: "filtered stage that makes the same layer", dockerfile: sameLayer,
			tweak: func(o *Options) { o.NoCacheFilter = []string{"a"} },
			want: map[string]bool{
				"[a 1/2] FROM scratch AS a": false, "[a 2/2] COPY a /a": false,
				"[stage-1 1/3] FROM scratch": true, "[stage-1 2/3] COPY --from=a /a /x": true,
				"[stage-1 3/3] COPY b /b": true,
			}},
		{name: "filtered stage that makes a new layer", dockerfile: newLayer,
			tweak: func(o *Options) { o.NoCacheFilter = []string{"r"} },
			want: map[string]bool{
				"[r 1/2] FROM busybox AS r":                          false,
				"[r 2/2] RUN cat /proc/sys/kernel/random/uuid > /id": false,
				"[stage-1 1/3] FROM scratch":                         true,
				"[stage-1 2/3] COPY --from=r /id /id":                false,
				"[stage-1 3/3] COPY b /b":                            false,
			}},
		{name: "filter by stage number", dockerfile: newLayer,
			tweak: func(o *Options) { o.NoCacheFilter = []string{"1"} },
			want: map[string]bool{
				"[r 1/2] FROM busybox AS r":                          true,
				"[r 2/2] RUN cat /proc/sys/kernel/random/uuid > /id": true,
				"[stage-1 1/3] FROM scratch":                         false,
				"[stage-1 2/3] COPY --from=r /id /id":                false,
				"[stage-1 3/3] COPY b /b":                            false,
			}},
		{name: "pull asks the registry again", dockerfile: newLayer,
			tweak: func(o *Options) { o.Pull = true },
			want: map[string]bool{
				"[r 1/2] FROM busybox AS r":                          false,
				"[r 2/2] RUN cat /proc/sys/kernel/random/uuid > /id": true,
				"[stage-1 1/3] FROM scratch":                         true,
				"[stage-1 2/3] COPY --from=r /id /id":                true,
				"[stage-1 3/3] COPY b /b":                            true,
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newCacheRig(t, tc.dockerfile, files, withBusybox(t, nil))
			r.build(nil)
			_, steps := r.build(tc.tweak)
			if diff := cmp.Diff(tc.want, byName(steps)); diff != "" {
				t.Errorf("cached steps (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCacheMissReasons checks when a miss is explained: always when an
// earlier build of the step exists, with DebugCache also otherwise.
func TestCacheMissReasons(t *testing.T) {
	const df = "FROM scratch\nCOPY a /a\nCOPY b /b\n"
	files := []ctxFile{{path: "a", content: "a"}, {path: "b", content: "b"}}
	cases := []struct {
		name   string
		first  func(*Options) // nil: no first build
		second func(*Options)
		change func(t *testing.T, dir string)
		want   map[string][]string // cache-miss lines by step
	}{
		{name: "first build", second: nil, want: map[string][]string{
			"COPY a": nil, "COPY b": nil}},
		{name: "first build with debug",
			second: func(o *Options) { o.DebugCache = true },
			want: map[string][]string{
				"COPY a": {"cache miss: no earlier build of this step"},
				"COPY b": {"cache miss: no earlier build of this step"}}},
		{name: "changed file", first: func(*Options) {},
			change: func(t *testing.T, dir string) { writeFile(t, dir, "a", "A") },
			want: map[string][]string{
				"COPY a": {"cache miss: file a changed"},
				"COPY b": {"cache miss: the previous step was rebuilt: [2/3] COPY a /a"}}},
		{name: "no cache with debug", first: func(*Options) {},
			second: func(o *Options) { o.NoCache, o.DebugCache = true, true },
			want: map[string][]string{
				"COPY a": {"cache miss: --no-cache"}, "COPY b": {"cache miss: --no-cache"}}},
		{name: "no cache without debug", first: func(*Options) {},
			second: func(o *Options) { o.NoCache = true },
			want:   map[string][]string{"COPY a": nil, "COPY b": nil}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newCacheRig(t, df, files, nil)
			if tc.first != nil {
				r.build(tc.first)
			}
			if tc.change != nil {
				tc.change(t, r.dir)
			}
			_, steps := r.build(tc.second)
			got := map[string][]string{}
			for k := range tc.want {
				got[k] = statusOf(steps, k)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("cache-miss lines (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCacheConcurrentBuilds builds one Dockerfile twice at once into one
// store; both must succeed, and a third build is all cached.
func TestCacheConcurrentBuilds(t *testing.T) {
	const df = "FROM busybox\nCOPY a /a\nRUN cat /a > /b\nWORKDIR /w\nCOPY . /ctx/\n"
	files := []ctxFile{{path: "a", content: "a"}, {path: "sub/x", content: "x"}}
	r := newCacheRig(t, df, files, withBusybox(t, nil))
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.tryBuild()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("build %d: %v", i, err)
		}
	}
	_, steps := r.build(nil)
	if got := pattern(steps); got != "CCCCC" {
		t.Errorf("third build: steps %s, want CCCCC", got)
	}
}

// tryBuild is build for another goroutine: it returns the error.
func (r *cacheRig) tryBuild() error {
	opts := Options{ContextDir: r.dir, Dockerfile: []byte(r.dockerfile),
		DockerfilePath: filepath.Join(r.dir, "Dockerfile"), Root: r.root}
	if r.base != nil {
		r.base(&opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Build(ctx, opts)
	if err != nil {
		return err
	}
	if _, err := Export(ctx, res.Image, ExportOptions{Root: r.root}); err != nil {
		return fmt.Errorf("storing: %w", err)
	}
	if len(res.Warnings) > 0 && strings.Contains(fmt.Sprint(res.Warnings), "cache") {
		return fmt.Errorf("warnings: %v", res.Warnings)
	}
	return nil
}

// TestCacheMissReasonAfterHits: a context whose first build came all from
// the cache (another context had the same files) still gets its misses
// explained.
func TestCacheMissReasonAfterHits(t *testing.T) {
	const df = "FROM scratch\nCOPY a /a\n"
	files := []ctxFile{{path: "a", content: "a"}}
	first := newCacheRig(t, df, files, nil)
	first.build(nil)
	second := newCacheRig(t, df, files, nil)
	second.root = first.root
	if _, steps := second.build(nil); pattern(steps) != "CC" {
		t.Fatalf("the other context: steps %s, want CC", pattern(steps))
	}
	writeFile(t, second.dir, "a", "A")
	_, steps := second.build(nil)
	got := statusOf(steps, "COPY a")
	if diff := cmp.Diff([]string{"cache miss: file a changed"}, got); diff != "" {
		t.Errorf("cache-miss lines (-want +got):\n%s", diff)
	}
}

// TestCacheMissingBlob: an entry whose layer blob is gone from the store is
// a miss, and says so.
func TestCacheMissingBlob(t *testing.T) {
	r := newCacheRig(t, "FROM scratch\nCOPY a /a\n", []ctxFile{{path: "a", content: "a"}}, nil)
	_, _, img := r.buildImage(nil)
	ls, err := img.Layers()
	if err != nil || len(ls) != 1 {
		t.Fatalf("layers: %v %v", ls, err)
	}
	d, err := ls[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(r.root, "blobs", d.Algorithm, d.Hex)); err != nil {
		t.Fatal(err)
	}
	_, steps := r.build(nil)
	if got := pattern(steps); got != "CR" {
		t.Errorf("steps %s, want CR", got)
	}
	want := []string{"cache miss: the cached layer " + d.String() + " is missing from the store"}
	if diff := cmp.Diff(want, statusOf(steps, "COPY a")); diff != "" {
		t.Errorf("cache-miss lines (-want +got):\n%s", diff)
	}
}

// TestCacheBaseTagMoved: once pulled, a base is used without asking the
// registry again, even when its tag moved; --pull sees the new image and
// the steps on it miss.
func TestCacheBaseTagMoved(t *testing.T) {
	reg := testenv.Registry(t)
	testenv.PushBusybox(t, reg, "library/busybox:latest")
	r := newCacheRig(t, "FROM busybox\nRUN echo hi > /hi\n", nil, func(o *Options) {
		o.Registry.Mirrors = []string{reg}
	})
	r.build(nil)

	moved, err := mutate.Config(testenv.BusyboxImage(t), v1.Config{
		Env: []string{"PATH=/bin"}, Labels: map[string]string{"moved": "yes"}})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(reg+"/library/busybox:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, moved, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	movedDigest, err := moved.Digest()
	if err != nil {
		t.Fatal(err)
	}

	if _, steps := r.build(nil); pattern(steps) != "CC" {
		t.Errorf("without --pull: steps %s, want CC", pattern(steps))
	}
	_, steps := r.build(func(o *Options) { o.Pull = true })
	if pattern(steps) != "RR" {
		t.Errorf("with --pull: steps %s, want RR", pattern(steps))
	}
	got := statusOf(steps, "RUN echo")
	want := "now FROM busybox@" + movedDigest.String()
	prefix := "cache miss: base image changed: was FROM busybox@"
	if len(got) != 1 || !strings.HasPrefix(got[0], prefix) || !strings.HasSuffix(got[0], want) {
		t.Errorf("cache-miss lines %q, want a base image change to %s", got, movedDigest)
	}
	if _, steps := r.build(nil); pattern(steps) != "CC" {
		t.Errorf("after --pull: steps %s, want CC", pattern(steps))
	}
}
