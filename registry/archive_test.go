package registry

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestArchiveRoundTrip writes two images (one with two tags, one untagged
// or tagged) in each archive format and reads them back: image IDs and
// names must survive (and manifest digests too in an OCI archive; a docker
// archive has no manifest), and shared blobs must be stored once.
func TestArchiveRoundTrip(t *testing.T) {
	a := twoLayerImage(t)
	b := testImage(t, HostPlatform(), map[string]string{"a": "1"}, map[string]string{"c": "3"})
	classic := func(ctx context.Context, path string, imgs []NamedImage) error {
		refs := map[name.Reference]v1.Image{}
		for _, ni := range imgs {
			for _, tag := range ni.Tags {
				ref, err := name.ParseReference(tag)
				if err != nil {
					return err
				}
				refs[ref] = ni.Image
			}
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		return tarball.MultiRefWrite(refs, f)
	}
	tests := []struct {
		name  string
		write func(context.Context, string, []NamedImage) error
		imgs  []NamedImage
		want  map[v1.Hash][]string // by image ID
		// keepsDigest: the manifest digests survive too.
		keepsDigest bool
	}{
		{
			name:  "docker",
			write: WriteDockerArchive,
			imgs: []NamedImage{
				{Image: a, Tags: []string{"app:1", "app:2"}},
				{Image: b, Tags: []string{"x/y:z"}},
			},
			want: map[v1.Hash][]string{
				mustConfigName(t, a): {"docker.io/library/app:1", "docker.io/library/app:2"},
				mustConfigName(t, b): {"docker.io/x/y:z"},
			},
			keepsDigest: true,
		},
		{
			name:        "docker untagged",
			write:       WriteDockerArchive,
			imgs:        []NamedImage{{Image: a}},
			want:        map[v1.Hash][]string{mustConfigName(t, a): nil},
			keepsDigest: true,
		},
		{
			name:  "docker before version 25",
			write: classic,
			imgs: []NamedImage{
				{Image: a, Tags: []string{"app:1"}},
				{Image: b, Tags: []string{"x/y:z"}},
			},
			want: map[v1.Hash][]string{
				mustConfigName(t, a): {"app:1"},
				mustConfigName(t, b): {"x/y:z"},
			},
		},
		{
			name:  "oci",
			write: WriteOCIArchive,
			imgs:  []NamedImage{{Image: a, Tags: []string{"app:1", "app:2"}}, {Image: b}},
			want: map[v1.Hash][]string{
				mustConfigName(t, a): {"docker.io/library/app:1", "docker.io/library/app:2"},
				mustConfigName(t, b): nil,
			},
			keepsDigest: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out.tar")
			if err := tc.write(context.Background(), path, tc.imgs); err != nil {
				t.Fatal(err)
			}
			assertUniqueEntries(t, path)
			got, digests := loadAll(t, path)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("images read back (-want +got):\n%s", diff)
			}
			for _, ni := range tc.imgs {
				if d := mustDigest(t, ni.Image); tc.keepsDigest && !digests[d] {
					t.Errorf("manifest digest %s not kept", d)
				}
			}
		})
	}
}

// loadAll reads an archive and returns the IDs of its images with their
// names, and the set of manifest digests, checking that each image is valid.
func loadAll(t *testing.T, path string) (map[v1.Hash][]string, map[v1.Hash]bool) {
	t.Helper()
	imgs, done, err := ReadArchive(context.Background(), path, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	got := map[v1.Hash][]string{}
	digests := map[v1.Hash]bool{}
	for _, ni := range imgs {
		if err := validate.Image(ni.Image); err != nil {
			t.Errorf("invalid image: %v", err)
		}
		tags := append([]string(nil), ni.Tags...)
		sort.Strings(tags)
		got[mustConfigName(t, ni.Image)] = tags
		digests[mustDigest(t, ni.Image)] = true
	}
	return got, digests
}

// assertUniqueEntries fails when the tar at path holds a name twice.
func assertUniqueEntries(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if seen[h.Name] {
			t.Errorf("%s is twice in the archive", h.Name)
		}
		seen[h.Name] = true
	}
}

// TestReadArchiveForms reads the same OCI archive gzip-compressed and as
// an extracted layout directory.
func TestReadArchiveForms(t *testing.T) {
	a := twoLayerImage(t)
	path := filepath.Join(t.TempDir(), "out.tar")
	if err := WriteOCITar(context.Background(), path, a, []string{"app:1"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(raw)
	zw.Close()
	gzPath := filepath.Join(t.TempDir(), "out.tar.gz")
	if err := os.WriteFile(gzPath, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layout")
	if err := WriteOCILayout(context.Background(), dir, a, []string{"app:1"}); err != nil {
		t.Fatal(err)
	}
	want := map[v1.Hash][]string{mustConfigName(t, a): {"docker.io/library/app:1"}}
	for name, p := range map[string]string{"gzip": gzPath, "directory": dir} {
		got, digests := loadAll(t, p)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		if !digests[mustDigest(t, a)] {
			t.Errorf("%s: manifest digest not kept", name)
		}
	}
}

// TestReadArchiveRejects checks the errors for files that are no image
// archive and that a hostile blob name is never written.
func TestReadArchiveRejects(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
	}{
		{"not an archive", map[string]string{"hello.txt": "hi"}, "neither a docker archive"},
		{"climbing blob", map[string]string{
			"oci-layout":                   layoutFile,
			"index.json":                   `{"schemaVersion":2,"manifests":[]}`,
			"blobs/sha256/../../../escape": "x",
		}, "holds no image"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "in.tar")
			open := tarOpener(t, tc.files)
			rc, _ := open()
			b, _ := io.ReadAll(rc)
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			tmp := filepath.Join(dir, "tmp")
			os.Mkdir(tmp, 0o755)
			_, _, err := ReadArchive(context.Background(), path, tmp)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(dir, "escape")); err == nil {
				t.Errorf("a blob name climbed out of the work directory")
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("work files left behind: %v", left)
			}
		})
	}
}
