package registry

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// readLayout opens the layout at dir, validates it, and returns the
// annotations of its entries and the image of the first.
func readLayout(t *testing.T, dir string) ([]map[string]string, v1.Image) {
	t.Helper()
	ii, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(ii); err != nil {
		t.Errorf("validate.Index(%s): %v", dir, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var anns []map[string]string
	for _, d := range im.Manifests {
		anns = append(anns, d.Annotations)
	}
	if len(im.Manifests) == 0 {
		t.Fatalf("layout %s has no entries", dir)
	}
	img, err := ii.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
	return anns, img
}

var twoTagNames = []string{"app:1", "example.com/team/app:v2"}

var twoTags = []map[string]string{
	{AnnotationImageName: "docker.io/library/app:1", AnnotationRefName: "1"},
	{AnnotationImageName: "example.com/team/app:v2", AnnotationRefName: "v2"},
}

func TestWriteOCILayout(t *testing.T) {
	ctx := context.Background()
	img := twoLayerImage(t)
	dir := filepath.Join(t.TempDir(), "out", "layout")

	if err := WriteOCILayout(ctx, dir, img, twoTagNames); err != nil {
		t.Fatal(err)
	}
	anns, got := readLayout(t, dir)
	if diff := cmp.Diff(twoTags, anns); diff != "" {
		t.Errorf("index annotations (-want +got):\n%s", diff)
	}
	if mustDigest(t, got) != mustDigest(t, img) {
		t.Errorf("layout image digest %s, want %s", mustDigest(t, got), mustDigest(t, img))
	}

	// Writing again replaces the layout as a whole.
	other := testImage(t, linux("amd64", ""), map[string]string{"c": "3"})
	if err := WriteOCILayout(ctx, dir, other, nil); err != nil {
		t.Fatal(err)
	}
	anns, got = readLayout(t, dir)
	if diff := cmp.Diff([]map[string]string{nil}, anns); diff != "" {
		t.Errorf("untagged index annotations (-want +got):\n%s", diff)
	}
	if mustDigest(t, got) != mustDigest(t, other) {
		t.Error("the layout was not replaced")
	}
	oldBlob := filepath.Join(dir, "blobs", "sha256", mustDigest(t, img).Hex)
	if _, err := os.Stat(oldBlob); err == nil {
		t.Error("a blob of the old layout survived the replacement")
	}
	leftovers, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(leftovers) != 1 {
		t.Errorf("temp directories left beside the layout: %v", leftovers)
	}
}

func TestWriteOCILayoutRefusesOtherDirs(t *testing.T) {
	img := testImage(t, linux("amd64", ""))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteOCILayout(context.Background(), dir, img, nil); err == nil {
		t.Fatal("WriteOCILayout replaced a directory that is not a layout")
	}
	if _, err := os.Stat(filepath.Join(dir, "precious")); err != nil {
		t.Errorf("the directory was touched: %v", err)
	}
	empty := t.TempDir()
	if err := WriteOCILayout(context.Background(), empty, img, nil); err != nil {
		t.Errorf("WriteOCILayout into an empty directory: %v", err)
	}
}

// untar extracts the archive at path into a new temp dir.
func untar(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dir := t.TempDir()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			t.Fatalf("archive entry %q escapes", hdr.Name)
		}
		if hdr.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteOCITar(t *testing.T) {
	ctx := context.Background()
	shared := map[string]string{"same": "x"}
	img := testImage(t, linux("amd64", ""), shared, map[string]string{"b": "2"}, shared)
	path := filepath.Join(t.TempDir(), "img.tar")
	if err := WriteOCITar(ctx, path, img, twoTagNames); err != nil {
		t.Fatal(err)
	}
	anns, got := readLayout(t, untar(t, path))
	if diff := cmp.Diff(twoTags, anns); diff != "" {
		t.Errorf("index annotations (-want +got):\n%s", diff)
	}
	if mustDigest(t, got) != mustDigest(t, img) {
		t.Errorf("archived image digest %s, want %s", mustDigest(t, got), mustDigest(t, img))
	}

	// The same image gives the same bytes.
	again := filepath.Join(t.TempDir(), "again.tar")
	if err := WriteOCITar(ctx, again, img, twoTagNames); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(path)
	b, _ := os.ReadFile(again)
	if string(a) != string(b) {
		t.Error("two archives of the same image differ")
	}
}

func TestWriteDockerTar(t *testing.T) {
	img := testImage(t, linux("amd64", ""), map[string]string{"a": "1"})
	tests := []struct {
		name     string
		tags     []string
		repoTags []string
	}{
		{name: "tags", tags: []string{"app:1", "user/app", "example.com/team/app:v2"},
			repoTags: []string{"app:1", "user/app:latest", "example.com/team/app:v2"}},
		{name: "untagged"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "docker.tar")
			if err := WriteDockerTar(context.Background(), path, img, tc.tags); err != nil {
				t.Fatal(err)
			}
			got, err := tarball.ImageFromPath(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(got); err != nil {
				t.Errorf("validate.Image: %v", err)
			}
			if mustConfigName(t, got) != mustConfigName(t, img) {
				t.Error("the archive holds another image")
			}
			b, err := os.ReadFile(filepath.Join(untar(t, path), "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			var m tarball.Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if len(m) != 1 {
				t.Fatalf("manifest.json has %d images, want 1", len(m))
			}
			// go-containerregistry writes the tags of an image in map order.
			sort.Strings(m[0].RepoTags)
			sort.Strings(tc.repoTags)
			if diff := cmp.Diff(tc.repoTags, m[0].RepoTags); diff != "" {
				t.Errorf("RepoTags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOutputsRejectBadTags(t *testing.T) {
	ctx := context.Background()
	img := testImage(t, linux("amd64", ""))
	dir := t.TempDir()
	bad := []string{"Bad"}
	for name, write := range map[string]func() error{
		"layout": func() error { return WriteOCILayout(ctx, filepath.Join(dir, "l"), img, bad) },
		"oci":    func() error { return WriteOCITar(ctx, filepath.Join(dir, "o.tar"), img, bad) },
		"docker": func() error { return WriteDockerTar(ctx, filepath.Join(dir, "d"), img, bad) },
	} {
		if err := write(); err == nil {
			t.Errorf("%s: a bad tag was accepted", name)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left files: %v", entries)
	}
}
