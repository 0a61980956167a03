package builder

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ibuild/ibuild/layers"
)

const twoRunnersDockerfile = `FROM busybox
ENV A=1
COPY a.txt /a.txt
RUN --mount=type=bind,source=b.txt,target=/b.txt wc -c < /b.txt > /size
COPY c.txt /c.txt
RUN cat /a.txt /c.txt /size > /out
WORKDIR /w
`

var twoRunnersFiles = []ctxFile{{path: "a.txt", content: "a\n"},
	{path: "b.txt", content: "hello"}, {path: "c.txt", content: "c\n"}}

// TestRegistryCacheSecondRunner: a runner with an empty store takes every
// step from the first runner's registry cache, makes the same image, and
// downloads no layer for it; it keeps the results in its own store; its
// export of the same cache sends nothing again.
func TestRegistryCacheSecondRunner(t *testing.T) {
	cases := []struct {
		name        string
		compression layers.Compression
	}{
		{name: "gzip"},
		{name: "zstd", compression: layers.Zstd},
		// eStargz layers carry annotations, which a layer still in the
		// registry must give the manifest too.
		{name: "estargz", compression: layers.Estargz},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			comp := func(o *Options) { o.Compression = tc.compression }
			testSecondRunner(t, comp)
		})
	}
}

func testSecondRunner(t *testing.T, comp func(*Options)) {
	ref := cacheRef(t, "1")
	a := newCacheRunner(t, twoRunnersFiles)
	resA, _ := a.build(twoRunnersDockerfile, both(comp, cacheTo(ref, CacheModeMin)))
	exportCache(t, resA)

	b := newCacheRunner(t, twoRunnersFiles)
	resB, steps := b.build(twoRunnersDockerfile, both(comp, cacheFrom(ref)))
	if diff := cmp.Diff("CCCCCC", pattern(steps)); diff != "" {
		t.Errorf("steps on the second runner (-want +got):\n%s\n%v", diff, steps)
	}
	if got, want := imageDigest(t, resB.Image), imageDigest(t, resA.Image); got != want {
		t.Errorf("second runner made image %s, the first %s", got, want)
	}
	m, err := resA.Image.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range m.Layers {
		if n := b.reqs.gets[l.Digest.String()]; n != 0 {
			t.Errorf("the second runner downloaded layer %s %d times; nothing needed it",
				l.Digest, n)
		}
	}
	if len(b.reqs.gets) == 0 {
		t.Error("the request log saw no blob download at all (not even configs)")
	}
	t.Logf("blobs the second runner downloaded: %v", b.reqs.gets)

	// The export reads every layer; afterwards the store alone has them.
	if _, err := Export(context.Background(), resB.Image, ExportOptions{Root: b.root}); err != nil {
		t.Fatal(err)
	}
	again, steps := b.build(twoRunnersDockerfile, comp)
	if diff := cmp.Diff("CCCCCC", pattern(steps)); diff != "" {
		t.Errorf("rebuild from the local store (-want +got):\n%s", diff)
	}
	if imageDigest(t, again.Image) != imageDigest(t, resA.Image) {
		t.Error("rebuild from the local store made another image")
	}

	b.reqs.reset()
	resB2, _ := b.build(twoRunnersDockerfile,
		both(comp, cacheFrom(ref), cacheTo(ref, CacheModeMin)))
	exportCache(t, resB2)
	if b.reqs.patches != 0 {
		t.Errorf("exporting the same cache again sent %d blobs; the registry had them",
			b.reqs.patches)
	}
}

// TestRegistryCachePerStep: a change in the second runner's context misses
// only the steps that read it, and the steps after a step that ran again
// and made the same layer hit again (the cache is not given up at the
// first miss).
func TestRegistryCachePerStep(t *testing.T) {
	epoch := time.Unix(1700000000, 0).UTC()
	pin := func(o *Options) { o.Epoch = &epoch }
	ref := cacheRef(t, "1")
	a := newCacheRunner(t, twoRunnersFiles)
	resA, _ := a.build(twoRunnersDockerfile, both(pin, cacheTo(ref, CacheModeMin)))
	exportCache(t, resA)

	cases := []struct {
		name   string
		change map[string]string
		want   string
		same   bool
	}{
		{name: "nothing changed", want: "CCCCCC", same: true},
		{name: "a mounted file changed, the step made the same layer",
			change: map[string]string{"b.txt": "HELLO"}, want: "CCRCCC", same: true},
		{name: "a copied file changed", change: map[string]string{"c.txt": "C\n"},
			want: "CCCRRR"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newCacheRunner(t, twoRunnersFiles)
			for p, c := range tc.change {
				writeFile(t, b.dir, p, c)
			}
			res, steps := b.build(twoRunnersDockerfile, both(pin, cacheFrom(ref)))
			if diff := cmp.Diff(tc.want, pattern(steps)); diff != "" {
				t.Errorf("steps (-want +got):\n%s\n%v", diff, steps)
			}
			if same := imageDigest(t, res.Image) == imageDigest(t, resA.Image); same != tc.same {
				t.Errorf("same image as the first runner: %v, want %v", same, tc.same)
			}
		})
	}
}

// TestRegistryCacheModes: mode=min carries the steps of the image's
// stages, mode=max those of every stage.
func TestRegistryCacheModes(t *testing.T) {
	const dockerfile = "FROM busybox AS build\nRUN echo x > /x\n" +
		"FROM busybox\nCOPY --from=build /x /x\n"
	epoch := time.Unix(1700000000, 0).UTC()
	pin := func(o *Options) { o.Epoch = &epoch }
	cases := []struct {
		mode, want string
	}{
		// The build stage runs again; its layer is the same, so the COPY
		// of its result hits.
		{mode: CacheModeMin, want: "RC"},
		{mode: CacheModeMax, want: "CC"},
	}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			ref := cacheRef(t, "1")
			a := newCacheRunner(t, nil)
			resA, _ := a.build(dockerfile, both(pin, cacheTo(ref, tc.mode)))
			exportCache(t, resA)
			b := newCacheRunner(t, nil)
			res, steps := b.build(dockerfile, both(pin, cacheFrom(ref)))
			if diff := cmp.Diff(tc.want, pattern(steps)); diff != "" {
				t.Errorf("steps (-want +got):\n%s\n%v", diff, steps)
			}
			if imageDigest(t, res.Image) != imageDigest(t, resA.Image) {
				t.Error("the second runner made another image")
			}
		})
	}
}

// TestRegistryCacheMissingRef: a cache that is not there is a warning and
// the build goes on.
func TestRegistryCacheMissingRef(t *testing.T) {
	r := newCacheRunner(t, twoRunnersFiles)
	ref := cacheRef(t, "absent")
	res, steps := r.build(twoRunnersDockerfile, cacheFrom(ref))
	if diff := cmp.Diff("RRRRRR", pattern(steps)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	var found bool
	for _, w := range res.Warnings {
		found = found || (strings.Contains(w, "--cache-from "+ref) &&
			strings.Contains(w, "not found") && strings.Contains(w, "building without it"))
	}
	if !found {
		t.Errorf("warnings %q lack one about the missing cache %s", res.Warnings, ref)
	}
}

// TestRegistryCacheCrossRepoMount: an image pushed first lends its layers to
// the cache pushed after it into another repository: they are mounted,
// not sent again; only the cache's config is uploaded.
func TestRegistryCacheCrossRepoMount(t *testing.T) {
	a := newCacheRunner(t, twoRunnersFiles)
	ref := cacheRef(t, "1")
	res, _ := a.build(twoRunnersDockerfile, cacheTo(ref, CacheModeMin))
	imgRef := busyboxMirror(t) + "/apps/" + strings.ToLower(t.Name()) + ":1"
	_, err := Export(context.Background(), res.Image, ExportOptions{Root: a.root,
		Tags: []string{imgRef}, Push: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := res.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	for _, h := range cfg.History {
		if h.Comment == historyComment && !h.EmptyLayer {
			steps++
		}
	}
	a.reqs.reset()
	exportCache(t, res, imgRef)
	if steps == 0 || a.reqs.mounts != steps || a.reqs.patches != 1 {
		t.Errorf("cache push: %d blobs mounted, %d uploaded; want the %d step layers mounted "+
			"and only the config uploaded", a.reqs.mounts, a.reqs.patches, steps)
	}
}
