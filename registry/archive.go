package registry

import (
	"archive/tar"
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// NamedImage is an image with the names it is written or was found under.
type NamedImage struct {
	Image v1.Image
	// Tags are names as the user writes them ("app:1") or full names; an
	// image without tags is written untagged.
	Tags []string
}

// WriteDockerArchive writes imgs into one `docker load` tarball at path, as
// `docker save` does with several images: manifest.json has an entry per
// image with its tags as RepoTags, and blobs shared by images are stored
// once. The file is written beside path and renamed.
func WriteDockerArchive(ctx context.Context, path string, imgs []NamedImage) error {
	refs := map[name.Reference]v1.Image{}
	for _, ni := range imgs {
		names, err := normalizeAll(ni.Tags)
		if err != nil {
			return fmt.Errorf("writing docker archive %s: %w", path, err)
		}
		for _, n := range names {
			t, err := name.NewTag(familiar(n), name.WithDefaultRegistry(""))
			if err != nil {
				return fmt.Errorf("writing docker archive %s: %w", path, err)
			}
			refs[t] = ni.Image
		}
		if len(names) > 0 {
			continue
		}
		d, err := ni.Image.Digest()
		if err != nil {
			return fmt.Errorf("writing docker archive %s: %w", path, err)
		}
		ref, err := name.NewDigest("image@"+d.String(), name.WithDefaultRegistry(""))
		if err != nil {
			return fmt.Errorf("writing docker archive %s: %w", path, err)
		}
		refs[ref] = ni.Image
	}
	return writeFileAtomic(ctx, path, "docker archive", func(f *os.File) error {
		return tarball.MultiRefWrite(refs, f)
	})
}

// WriteOCIArchive writes imgs into one OCI image layout tar at path (what
// `skopeo copy oci-archive:` reads), with an index entry per name annotated
// as WriteOCILayout does, and each blob once.
func WriteOCIArchive(ctx context.Context, path string, imgs []NamedImage) error {
	var idx v1.ImageIndex = empty.Index
	for _, ni := range imgs {
		one, err := outputIndex(ni.Image, ni.Tags)
		if err != nil {
			return fmt.Errorf("writing OCI archive %s: %w", path, err)
		}
		im, err := one.IndexManifest()
		if err != nil {
			return fmt.Errorf("writing OCI archive %s: %w", path, err)
		}
		for _, d := range im.Manifests {
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: ni.Image, Descriptor: d})
		}
	}
	rawIndex, err := idx.RawManifest()
	if err != nil {
		return fmt.Errorf("writing OCI archive %s: %w", path, err)
	}
	return writeFileAtomic(ctx, path, "OCI archive", func(f *os.File) error {
		tw := tar.NewWriter(f)
		if err := writeTarFile(tw, "oci-layout", []byte(layoutFile)); err != nil {
			return err
		}
		if err := writeTarFile(tw, "index.json", rawIndex); err != nil {
			return err
		}
		for _, d := range []string{"blobs/", "blobs/sha256/"} {
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch()}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		seen := map[v1.Hash]bool{}
		for _, ni := range imgs {
			if err := writeBlobsOnce(ctx, tw, ni.Image, seen); err != nil {
				return err
			}
		}
		return tw.Close()
	})
}

// writeBlobsOnce adds the manifest, config and layer blobs of img that are
// not in seen yet, and records them there.
func writeBlobsOnce(ctx context.Context, tw *tar.Writer, img v1.Image, seen map[v1.Hash]bool) error {
	for _, blob := range []struct {
		what   string
		digest func() (v1.Hash, error)
		raw    func() ([]byte, error)
	}{
		{"manifest", img.Digest, img.RawManifest},
		{"config", img.ConfigName, img.RawConfigFile},
	} {
		h, err := blob.digest()
		if err != nil {
			return fmt.Errorf("reading the %s: %w", blob.what, err)
		}
		if seen[h] {
			continue
		}
		b, err := blob.raw()
		if err != nil {
			return fmt.Errorf("reading the %s: %w", blob.what, err)
		}
		seen[h] = true
		if err := writeTarFile(tw, blobName(h), b); err != nil {
			return err
		}
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("listing layers: %w", err)
	}
	for _, l := range layers {
		h, err := l.Digest()
		if err != nil {
			return fmt.Errorf("reading a layer digest: %w", err)
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		if err := writeTarLayer(ctx, tw, h, l); err != nil {
			return err
		}
	}
	return nil
}
