package builder

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestDockerFormat checks the media types of --format docker.
func TestDockerFormat(t *testing.T) {
	dir := t.TempDir()
	writeContext(t, dir, []ctxFile{{path: "a", content: "x"}})
	img, err := buildImage(t, dir, "FROM scratch\nCOPY a /a\nHEALTHCHECK CMD true\n",
		func(o *Options) { o.Format = FormatDocker })
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	got := []types.MediaType{m.MediaType, m.Config.MediaType, m.Layers[0].MediaType}
	want := []types.MediaType{types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("media types (-want +got):\n%s", diff)
	}
	cf, _ := img.ConfigFile()
	if cf.Config.Healthcheck == nil {
		t.Errorf("docker format lost the Healthcheck")
	}
}

// TestSquash checks --squash (the build's layers become one on the base,
// deletions of base files kept) and --squash-all (one layer).
func TestSquash(t *testing.T) {
	df := "FROM busybox\nRUN echo a > /a\nRUN rm /bin/ls && mkdir /d && echo x > /d/x\n" +
		"RUN rm -r /d && echo b > /b\n"
	for _, tt := range []struct {
		mode   string
		layers int
	}{{SquashNew, 2}, {SquashAll, 1}} {
		t.Run(tt.mode, func(t *testing.T) {
			squash := withBusybox(t, func(o *Options) { o.Squash = tt.mode })
			img, err := buildImage(t, t.TempDir(), df, squash)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatal(err)
			}
			ls, _ := img.Layers()
			if len(ls) != tt.layers {
				t.Errorf("%d layers, want %d", len(ls), tt.layers)
			}
			files := flatten(t, img)
			for _, p := range []string{"a", "b", "bin/sh"} {
				if _, ok := files[p]; !ok {
					t.Errorf("/%s is missing", p)
				}
			}
			for _, p := range []string{"bin/ls", "d", "d/x"} {
				if _, ok := files[p]; ok {
					t.Errorf("/%s should be gone", p)
				}
			}
			cf, _ := img.ConfigFile()
			n := 0
			for _, h := range cf.History {
				if !h.EmptyLayer {
					n++
				}
			}
			if n != tt.layers && tt.mode == SquashNew {
				t.Errorf("%d history entries with a layer, want %d", n, tt.layers)
			}
		})
	}
}

// TestAnnotations checks that manifest annotations reach the manifest.
func TestAnnotations(t *testing.T) {
	img, err := buildImage(t, t.TempDir(), "FROM scratch\nENV A=1\n", func(o *Options) {
		o.Annotations = map[string]string{"org.opencontainers.image.source": "https://example.invalid/x"}
	})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	if m.Annotations["org.opencontainers.image.source"] != "https://example.invalid/x" {
		t.Errorf("annotations %v", m.Annotations)
	}
}

// TestBuildPlatforms builds a stage without RUN for two platforms, reproducibly.
func TestBuildPlatforms(t *testing.T) {
	dir := t.TempDir()
	writeContext(t, dir, []ctxFile{{path: "app", content: "bin"}})
	ps := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	build := func() *Result {
		res, err := BuildPlatforms(context.Background(), Options{ContextDir: dir, Root: t.TempDir(),
			Dockerfile: []byte("FROM scratch\nARG TARGETARCH\nCOPY app /app-$TARGETARCH\n"),
			Epoch:      epochForTest(), IndexAnnotations: map[string]string{"k": "v"}}, ps)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := build()
	if err := validate.Index(res.Index); err != nil {
		t.Fatal(err)
	}
	im, _ := res.Index.IndexManifest()
	if len(im.Manifests) != 2 || im.Annotations["k"] != "v" {
		t.Fatalf("index %+v", im)
	}
	for i, m := range im.Manifests {
		img, _ := res.Index.Image(m.Digest)
		cf, _ := img.ConfigFile()
		if cf.Architecture != ps[i].Architecture || m.Platform.Architecture != ps[i].Architecture {
			t.Errorf("entry %d: config arch %s, descriptor %v", i, cf.Architecture, m.Platform)
		}
		if _, ok := flatten(t, img)["app-"+ps[i].Architecture]; !ok {
			t.Errorf("entry %d lacks /app-%s", i, ps[i].Architecture)
		}
	}
	a, _ := res.Index.Digest()
	b, _ := build().Index.Digest()
	if a != b {
		t.Errorf("two builds with the same epoch differ: %s %s", a, b)
	}
}

// TestForeignRunNeedsEmulation checks the error for RUN under a platform the
// host cannot run, and that a registered qemu entry with the F flag passes.
func TestForeignRunNeedsEmulation(t *testing.T) {
	dir := t.TempDir()
	p := v1.Platform{OS: "linux", Architecture: "s390x"}
	if hostPlatform().Architecture == "s390x" {
		p.Architecture = "riscv64"
	}
	err := checkRunnableIn(p, dir)
	if err == nil || !strings.Contains(err.Error(), "qemu-user-static") {
		t.Fatalf("error %v, want one naming qemu-user-static", err)
	}
	entry := filepath.Join(dir, "qemu-"+binfmtNames[p.Architecture])
	os.WriteFile(entry, []byte("enabled\ninterpreter /usr/bin/qemu\nflags: OCF\n"), 0o644)
	if err := checkRunnableIn(p, dir); err != nil {
		t.Errorf("registered emulator refused: %v", err)
	}
	os.WriteFile(entry, []byte("enabled\ninterpreter /usr/bin/qemu\nflags: OC\n"), 0o644)
	if err := checkRunnableIn(p, dir); err == nil || !strings.Contains(err.Error(), "F (fix binary)") {
		t.Errorf("entry without F accepted: %v", err)
	}
}

func epochForTest() *time.Time {
	t := time.Unix(1700000000, 0).UTC()
	return &t
}

// TestReproducible builds the same input from two directories, a second
// apart, with SOURCE_DATE_EPOCH semantics: the digests must be equal.
func TestReproducible(t *testing.T) {
	df := "FROM busybox\nCOPY . /src/\nRUN echo built > /src/out && mkdir -p /var/x\nENV A=1\n"
	var digests []string
	for i := 0; i < 2; i++ {
		if i == 1 {
			time.Sleep(1100 * time.Millisecond)
		}
		dir := t.TempDir()
		writeContext(t, dir, []ctxFile{{path: "a.txt", content: "a"}, {path: "sub/b", content: "b"}})
		img, err := buildImage(t, dir, df, withBusybox(t, func(o *Options) { o.Epoch = epochForTest() }))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests = append(digests, d.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("same input, different digests: %v", digests)
	}
}

// TestBasePlatformMismatch checks a base image that exists for one platform
// only, built for another: BuildKit's warning, and the stage's platform in
// the config.
func TestBasePlatformMismatch(t *testing.T) {
	other := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	if hostPlatform().Architecture == "arm64" {
		other = v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	res, err := Build(context.Background(), Options{ContextDir: t.TempDir(), Root: t.TempDir(),
		Dockerfile: []byte("FROM busybox\nENV A=1\n"), Platform: &other,
		Registry: registryWithBusybox(t)})
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := res.Image.ConfigFile()
	if cf.Architecture != other.Architecture {
		t.Errorf("config architecture %s, want %s", cf.Architecture, other.Architecture)
	}
	found := false
	for _, w := range res.Warnings {
		found = found || strings.Contains(w, "InvalidBaseImagePlatform")
	}
	if !found {
		t.Errorf("no platform warning in %q", res.Warnings)
	}
}
