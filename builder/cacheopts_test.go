package builder

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
				"[a 1/2] FROM scratch": false, "[a 2/2] COPY a /a": false,
				"[stage-1 1/3] FROM scratch": true, "[stage-1 2/3] COPY --from=a /a /x": true,
				"[stage-1 3/3] COPY b /b": true,
			}},
		{name: "filtered stage that makes a new layer", dockerfile: newLayer,
			tweak: func(o *Options) { o.NoCacheFilter = []string{"r"} },
			want: map[string]bool{
				"[r 1/2] FROM busybox": false,
				"[r 2/2] RUN cat /proc/sys/kernel/random/uuid > /id": false,
				"[stage-1 1/3] FROM scratch":                          true,
				"[stage-1 2/3] COPY --from=r /id /id":                 false,
				"[stage-1 3/3] COPY b /b":                             false,
			}},
		{name: "filter by stage number", dockerfile: newLayer,
			tweak: func(o *Options) { o.NoCacheFilter = []string{"1"} },
			want: map[string]bool{
				"[r 1/2] FROM busybox": true,
				"[r 2/2] RUN cat /proc/sys/kernel/random/uuid > /id": true,
				"[stage-1 1/3] FROM scratch":                          false,
				"[stage-1 2/3] COPY --from=r /id /id":                 false,
				"[stage-1 3/3] COPY b /b":                             false,
			}},
		{name: "pull asks the registry again", dockerfile: newLayer,
			tweak: func(o *Options) { o.Pull = true },
			want: map[string]bool{
				"[r 1/2] FROM busybox": false,
				"[r 2/2] RUN cat /proc/sys/kernel/random/uuid > /id": true,
				"[stage-1 1/3] FROM scratch":                          true,
				"[stage-1 2/3] COPY --from=r /id /id":                 true,
				"[stage-1 3/3] COPY b /b":                             true,
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
