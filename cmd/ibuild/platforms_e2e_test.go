package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ibuild/ibuild/internal/testenv"
)

// TestTwoPlatformsPushed builds the cross-compile pattern (RUN on the build
// platform, results copied into each target platform's image) for two
// platforms, reproducibly, pushes the index and reads it back with skopeo.
func TestTwoPlatformsPushed(t *testing.T) {
	reg := testenv.Registry(t)
	testenv.PushBusybox(t, reg, "library/busybox:latest")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "" +
		"FROM --platform=$BUILDPLATFORM busybox AS b\n" +
		"ARG TARGETARCH\nRUN echo $TARGETARCH > /arch\nFROM scratch\nCOPY --from=b /arch /arch\n"})
	ref := reg + "/multi/app:1"
	build := func(root string) {
		cmd := exec.Command(testenv.Binary(t), "--root", root, "--registry-mirror", reg,
			"--platform", "linux/amd64,linux/arm64", "-t", ref, "--push", ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build: %v\n%s", err, out)
		}
	}
	build(filepath.Join(t.TempDir(), "a"))
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		testenv.Require(t, "skopeo (Debian package skopeo)")
	}
	raw, err := exec.Command(skopeo, "inspect", "--raw", "--tls-verify=false",
		"docker://"+ref).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect --raw: %v\n%s", err, raw)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatalf("not an index: %v\n%s", err, raw)
	}
	if len(idx.Manifests) != 2 {
		t.Fatalf("index lists %d manifests, want 2:\n%s", len(idx.Manifests), raw)
	}
	r, _ := name.ParseReference(ref, name.Insecure)
	for _, m := range idx.Manifests {
		img, err := remote.Image(r.Context().Digest(m.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		files := flatten(t, img)
		if got, want := files["arch"].Data, m.Platform.Architecture+"\n"; got != want {
			t.Errorf("%s image: /arch = %q, want %q", m.Platform.Architecture, got, want)
		}
	}
	first, _ := remote.Index(r)
	d1, _ := first.Digest()
	build(filepath.Join(t.TempDir(), "b"))
	second, _ := remote.Index(r)
	d2, _ := second.Digest()
	if d1 != d2 {
		t.Errorf("two builds from empty stores differ: %s %s", d1, d2)
	}
}
