package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ibuild/ibuild/internal/testenv"
	"github.com/ibuild/ibuild/registry"
)

// indexStore builds a store with app (an image index: the image and its
// SBOM attestation) and plain (the same image, without), and returns it
// with the digests of their entries.
func indexStore(t *testing.T, c *cli) (root, app, plain string) {
	t.Helper()
	root, ctx := t.TempDir(), sbomContext(c)
	buildID(c, root, ctx, "-t", "plain")
	buildID(c, root, ctx, "--sbom", "-t", "app")
	d := entryDigests(t, root)
	return root, d["app:latest"][0], d["plain:latest"][0]
}

// TestPushIndexFromStore pushes a tag that names an index: the registry
// gets the whole index, attestation manifest included, as `build --push`
// sends it; a tag that names an image manifest pushes that manifest.
func TestPushIndexFromStore(t *testing.T) {
	reg := testenv.Registry(t)
	c := newCLI(t)
	root, app, plain := indexStore(t, c)
	for _, tc := range []struct {
		ref, digest string
		index       bool
	}{
		{"app", app, true},
		{"plain", plain, false},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			c := &cli{t: t, dir: c.dir, env: c.env}
			dst := reg + "/team/" + tc.ref + ":1"
			out := c.ok("push", "--root", root, "--progress", "plain", tc.ref, dst).stdout
			if !strings.HasPrefix(out, dst+": digest: "+tc.digest+" size: ") {
				t.Errorf("push printed %q, want the digest %s", out, tc.digest)
			}
			r, err := name.ParseReference(dst, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			desc, err := remote.Get(r)
			if err != nil {
				t.Fatal(err)
			}
			if desc.Digest.String() != tc.digest || desc.MediaType.IsIndex() != tc.index {
				t.Fatalf("the registry has %s (%s), want %s", desc.Digest, desc.MediaType,
					tc.digest)
			}
			if tc.index {
				checkPushedIndex(t, desc)
			}
		})
	}
}

// checkPushedIndex checks that a pushed index is whole and lists an image
// and its attestation manifest.
func checkPushedIndex(t *testing.T, desc *remote.Descriptor) {
	t.Helper()
	idx, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Errorf("validate.Index of the pushed index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []bool
	for _, d := range im.Manifests {
		kinds = append(kinds, registry.IsAttestation(d))
	}
	if diff := cmp.Diff([]bool{false, true}, kinds); diff != "" {
		t.Errorf("pushed index entries, attestation or not (-want +got):\n%s", diff)
	}
}

// tarFiles reads the regular files of a tar archive by name.
func tarFiles(t *testing.T, path string) map[string][]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			data, _ := io.ReadAll(tr)
			out[h.Name] = data
		}
	}
}

// TestSaveIndex saves a tag that names an index: an OCI archive holds the
// whole index, a docker archive the host image, with a warning.
func TestSaveIndex(t *testing.T) {
	c := newCLI(t)
	root, app, plain := indexStore(t, c)
	for _, tc := range []struct {
		format, wantEntry, wantWarning string
		wantChildren                   int
	}{
		{format: "oci", wantEntry: app, wantChildren: 2},
		{format: "docker", wantEntry: plain, wantWarning: "WARNING: app is an image index"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			c := &cli{t: t, dir: c.dir, env: c.env}
			path := filepath.Join(t.TempDir(), "a.tar")
			r := c.ok("save", "--root", root, "--format", tc.format, "-o", path, "app")
			warned := strings.Contains(r.stderr, tc.wantWarning)
			if tc.wantWarning == "" && r.stderr != "" || !warned {
				t.Errorf("save --format %s: stderr %q, want %q", tc.format, r.stderr,
					tc.wantWarning)
			}
			files := tarFiles(t, path)
			var im v1.IndexManifest
			if err := json.Unmarshal(files["index.json"], &im); err != nil {
				t.Fatal(err)
			}
			if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != tc.wantEntry {
				t.Fatalf("index.json lists %+v, want %s", im.Manifests, tc.wantEntry)
			}
			if tc.wantChildren == 0 {
				return
			}
			var child v1.IndexManifest
			if err := json.Unmarshal(files["blobs/sha256/"+im.Manifests[0].Digest.Hex],
				&child); err != nil || len(child.Manifests) != tc.wantChildren {
				t.Fatalf("the saved index: %+v, %v", child, err)
			}
			for _, d := range child.Manifests {
				if files["blobs/sha256/"+d.Digest.Hex] == nil {
					t.Errorf("the archive lacks manifest %s of the index", d.Digest)
				}
			}
		})
	}
}

// TestOCIOutputFileModes builds into an OCI layout and the store: their
// files are 0644 and their directories 0755, as BuildKit writes them.
func TestOCIOutputFileModes(t *testing.T) {
	c := newCLI(t)
	root, ctx := t.TempDir(), sbomContext(c)
	dest := filepath.Join(t.TempDir(), "oci")
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	c.ok("--root", root, "-q", "--sbom", "-t", "app", "-o", "type=oci,dest="+dest, ctx)
	for _, dir := range []string{dest, filepath.Join(root, "blobs")} {
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
			if info.Mode().Perm() != want {
				bad = append(bad, p+" "+info.Mode().Perm().String())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(bad) > 0 {
			t.Errorf("want files 0644 and directories 0755: %q", bad)
		}
	}
	for _, f := range []string{"index.json", "oci-layout"} {
		for _, dir := range []string{dest, root} {
			info, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != 0o644 {
				t.Errorf("%s has mode %s, want 0644", filepath.Join(dir, f), info.Mode().Perm())
			}
		}
	}
}
