package registry

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// withUmask runs fn with the process umask set to mask, so that modes do
// not depend on the umask of whoever runs the tests.
func withUmask(mask int, fn func()) {
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	fn()
}

// badModes lists the files below dir whose mode is not 0644 and the
// directories whose mode is not 0755, as path: mode.
func badModes(t *testing.T, dir string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o644)
		if d.IsDir() {
			want = 0o755
		}
		if got := info.Mode().Perm(); got != want {
			rel, _ := filepath.Rel(dir, p)
			bad = append(bad, rel+": "+got.String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// TestOutputFileModes checks that OCI layout outputs and the store's own
// layout have files 0644 and directories 0755 (go-containerregistry's
// layout package writes 0755 files).
func TestOutputFileModes(t *testing.T) {
	ctx := context.Background()
	img, idx := attestedPair(t, map[string]string{"m": "1"})
	for _, tc := range []struct {
		name  string
		write func(dir string) error
	}{
		{"layout of an image", func(dir string) error {
			return WriteOCILayout(ctx, dir, img, []string{"app:1"})
		}},
		{"layout of an index", func(dir string) error {
			return WriteOCILayout(ctx, dir, idx, nil)
		}},
		{"store", func(dir string) error {
			s, err := OpenImageStore(dir)
			if err != nil {
				return err
			}
			if err := s.Save(ctx, img, []string{"plain"}); err != nil {
				return err
			}
			if err := s.SaveIndex(ctx, idx, []string{"app"}); err != nil {
				return err
			}
			return s.Tag("app", "other")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			var err error
			withUmask(0o022, func() { err = tc.write(dir) })
			if err != nil {
				t.Fatal(err)
			}
			if bad := badModes(t, dir); len(bad) > 0 {
				t.Errorf("want files 0644 and directories 0755; got %q", bad)
			}
		})
	}
}

// TestArchiveOfIndex writes an image index into each archive format: an
// OCI archive holds the whole index (with its attestation manifest), a
// docker archive the image alone.
func TestArchiveOfIndex(t *testing.T) {
	ctx := context.Background()
	img, idx := attestedPair(t, map[string]string{"m": "1"})
	ni := []NamedImage{{Image: img, Index: idx, Tags: []string{"app:1"}}}
	for _, tc := range []struct {
		name  string
		write func(context.Context, string, []NamedImage) error
		want  v1.Hash // the digest index.json lists
	}{
		{"oci", WriteOCIArchive, mustIndexDigest(t, idx)},
		{"docker", WriteDockerArchive, mustDigest(t, img)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.tar")
			if err := tc.write(ctx, path, ni); err != nil {
				t.Fatal(err)
			}
			dir := untar(t, path)
			ii, err := layout.ImageIndexFromPath(dir)
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Index(ii); err != nil {
				t.Errorf("validate.Index: %v", err)
			}
			im, err := ii.IndexManifest()
			if err != nil {
				t.Fatal(err)
			}
			var got []v1.Hash
			for _, d := range im.Manifests {
				got = append(got, d.Digest)
			}
			if diff := cmp.Diff([]v1.Hash{tc.want}, got); diff != "" {
				t.Errorf("index.json lists (-want +got):\n%s", diff)
			}
			if tc.name == "docker" {
				checkDockerManifest(t, dir, img)
			}
		})
	}
}

// checkDockerManifest checks that the manifest.json in dir lists img alone.
func checkDockerManifest(t *testing.T, dir string, img v1.Image) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		t.Fatal(err)
	}
	want := "blobs/sha256/" + mustConfigName(t, img).Hex
	if len(entries) != 1 || entries[0].Config != want {
		t.Errorf("manifest.json = %s, want one entry with config %s", b, want)
	}
}

// TestPushIndexProgress pushes an index with a progress callback: it is
// called, and ends with everything sent.
func TestPushIndexProgress(t *testing.T) {
	reg := startRegistry(t)
	_, idx := attestedPair(t, map[string]string{"m": "1"})
	var mu sync.Mutex
	var last [2]int64
	calls := 0
	o := testOptions()
	o.Progress = func(sent, total int64) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		last = [2]int64{sent, total}
	}
	d, err := PushIndex(context.Background(), idx, reg+"/app:1", o)
	if err != nil {
		t.Fatal(err)
	}
	if d != mustIndexDigest(t, idx) {
		t.Errorf("PushIndex returned %s, want %s", d, mustIndexDigest(t, idx))
	}
	if calls == 0 || last[0] != last[1] || last[1] == 0 {
		t.Errorf("progress: %d calls, last %d of %d bytes", calls, last[0], last[1])
	}
}
