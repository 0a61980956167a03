package builder

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ibuild/ibuild/registry"
)

const cacheMountDockerfile = `FROM busybox
COPY v.txt /v.txt
RUN --mount=type=cache,target=/cache,id=c1 cat /cache/seen > /prev 2>/dev/null; cat /v.txt >> /cache/seen
`

// TestRegistryCacheMounts: with mode=max the content of a cache mount
// travels to the next runner, which finds it before its RUN step runs;
// with mode=min it does not. A runner whose steps were all cached, and so
// never mounted the cache, passes on the content it imported.
func TestRegistryCacheMounts(t *testing.T) {
	cases := []struct {
		name string
		mode string
		// relay: a runner between the first and the last imports the
		// first's cache, builds with every step cached, and exports its
		// own, which the last runner imports.
		relay    bool
		wantPrev string
		wantSeen string
		mounts   int // cache mounts in the artifact the last runner reads
	}{
		{name: "max", mode: CacheModeMax, wantPrev: "one\n", wantSeen: "one\ntwo\n", mounts: 1},
		{name: "min", mode: CacheModeMin, wantPrev: "", wantSeen: "two\n"},
		{name: "max through a runner that ran nothing", mode: CacheModeMax, relay: true,
			wantPrev: "one\n", wantSeen: "one\ntwo\n", mounts: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ref := cacheRef(t, "1")
			a := newCacheRunner(t, []ctxFile{{path: "v.txt", content: "one\n"}})
			res, _ := a.build(cacheMountDockerfile, cacheTo(ref, tc.mode))
			exportCache(t, res)
			if tc.relay {
				relay := newCacheRunner(t, []ctxFile{{path: "v.txt", content: "one\n"}})
				next := cacheRef(t, "2")
				res, steps := relay.build(cacheMountDockerfile,
					both(cacheFrom(ref), cacheTo(next, tc.mode)))
				if pattern(steps) != "CC" {
					t.Fatalf("relay runner: steps %s, want CC", pattern(steps))
				}
				exportCache(t, res)
				ref = next
			}
			if got := cacheMounts(t, ref); got != tc.mounts {
				t.Errorf("the artifact has %d cache mounts, want %d", got, tc.mounts)
			}

			b := newCacheRunner(t, []ctxFile{{path: "v.txt", content: "two\n"}})
			res, steps := b.build(cacheMountDockerfile, cacheFrom(ref))
			if diff := cmp.Diff("RR", pattern(steps)); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			got := flatten(t, res.Image)
			if diff := cmp.Diff(tc.wantPrev, got["prev"].Content); diff != "" {
				t.Errorf("/prev, what the RUN step found in the cache (-want +got):\n%s", diff)
			}
			seen := readFileOr(t, filepath.Join(b.cacheMountDir("c1"), "seen"))
			if diff := cmp.Diff(tc.wantSeen, seen); diff != "" {
				t.Errorf("the cache mount afterwards (-want +got):\n%s", diff)
			}
		})
	}
}

// cacheMounts counts the cache mounts the artifact at ref records.
func cacheMounts(t *testing.T, ref string) int {
	t.Helper()
	art, err := registry.PullCache(context.Background(), ref, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var cfg cacheConfig
	if err := json.Unmarshal(art.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	annotated := 0
	for _, l := range art.Layers {
		if l.Annotations[annotationCacheMount] != "" {
			annotated++
		}
	}
	if annotated != len(cfg.Mounts) {
		t.Errorf("%d layers annotated as cache mounts, %d mounts recorded", annotated,
			len(cfg.Mounts))
	}
	return len(cfg.Mounts)
}
