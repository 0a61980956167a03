package registry

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ibuild/ibuild/internal/testenv"
)

// twoPlatforms returns an index of an amd64 and an arm64 image.
func twoPlatforms(t *testing.T) (v1.ImageIndex, map[string]v1.Image) {
	t.Helper()
	imgs := map[string]v1.Image{}
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		imgs[arch] = img
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return mutate.AppendManifests(empty.Index, adds...), imgs
}

// TestIndexOutputs writes a two-platform index to every output that can
// hold one and reads it back.
func TestIndexOutputs(t *testing.T) {
	ctx := context.Background()
	idx, imgs := twoPlatforms(t)
	want, _ := idx.Digest()

	dir := filepath.Join(t.TempDir(), "oci")
	if err := WriteOCILayout(ctx, dir, idx, []string{"multi:1"}); err != nil {
		t.Fatal(err)
	}
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := ii.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != want || !im.Manifests[0].MediaType.IsIndex() {
		t.Fatalf("layout index.json = %+v, want one index entry %s", im.Manifests, want)
	}
	if err := validate.Index(ii); err != nil {
		t.Errorf("layout: %v", err)
	}

	tarPath := filepath.Join(t.TempDir(), "oci.tar")
	if err := WriteOCITar(ctx, tarPath, idx, []string{"multi:1"}); err != nil {
		t.Fatal(err)
	}
	if p, err := exec.LookPath("skopeo"); err == nil {
		out, err := exec.Command(p, "inspect", "--raw", "oci-archive:"+tarPath+":1").CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo inspect oci-archive: %v\n%s", err, out)
		}
		var got v1.IndexManifest
		if err := json.Unmarshal(out, &got); err != nil || len(got.Manifests) != 2 {
			t.Errorf("skopeo read %s (err %v), want an index of 2", out, err)
		}
	}

	s, err := OpenImageStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveIndex(ctx, idx, []string{"multi:1"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Image("multi:1")
	if err != nil {
		t.Fatal(err)
	}
	gd, _ := got.Digest()
	hd, _ := imgs[HostPlatform().Architecture].Digest()
	if gd != hd {
		t.Errorf("store resolved multi:1 to %s, want the host image %s", gd, hd)
	}
}

// TestPushIndex pushes a two-platform index to a registry server and reads
// it back by tag.
func TestPushIndex(t *testing.T) {
	reg := testenv.Registry(t)
	idx, _ := twoPlatforms(t)
	ref := reg + "/multi/app:1"
	d, err := PushIndex(context.Background(), idx, ref, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(ref, name.Insecure)
	back, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	bd, _ := back.Digest()
	if bd != d {
		t.Errorf("pulled index %s, pushed %s", bd, d)
	}
	if err := validate.Index(back); err != nil {
		t.Errorf("pulled index: %v", err)
	}
}
