package registry

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// NamedImage is an image with the names it is written or was found under.
type NamedImage struct {
	Image v1.Image
	// Index, when set, is the image index Image comes from (the image for
	// one platform): an OCI archive holds the whole index, with every
	// platform and attestation manifest, and then Image may be nil; a
	// docker archive, which holds one platform, holds Image.
	Index v1.ImageIndex
	// Tags are names as the user writes them ("app:1") or full names; an
	// image without tags is written untagged.
	Tags []string
}

// dockerManifestEntry is one image of a `docker save` manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// WriteDockerArchive writes imgs into one `docker load` tarball at path, as
// `docker save` does since Docker 25: manifest.json (an entry per image,
// with its tags as RepoTags, "app:1" for Docker Hub names) and, over the
// same blobs, an OCI image layout, so that the manifests and their digests
// survive a load. Blobs shared by images are stored once; layers stay
// compressed. The file is written beside path and renamed.
func WriteDockerArchive(ctx context.Context, path string, imgs []NamedImage) error {
	var entries []dockerManifestEntry
	pos := map[string]int{} // by config: one entry per image, with all its tags
	for _, ni := range imgs {
		e, err := dockerEntry(ni)
		if err != nil {
			return fmt.Errorf("writing docker archive %s: %w", path, err)
		}
		if i, ok := pos[e.Config]; ok {
			entries[i].RepoTags = append(entries[i].RepoTags, e.RepoTags...)
			continue
		}
		pos[e.Config] = len(entries)
		entries = append(entries, e)
	}
	mf, err := json.Marshal(entries)
	if err != nil {
		return fmt.Errorf("writing docker archive %s: %w", path, err)
	}
	return writeArchive(ctx, path, "docker archive", imgs, mf)
}

// dockerEntry is the manifest.json entry of ni, naming blobs by their
// place in the OCI layout.
func dockerEntry(ni NamedImage) (dockerManifestEntry, error) {
	names, err := normalizeAll(ni.Tags)
	if err != nil {
		return dockerManifestEntry{}, err
	}
	if ni.Image == nil {
		return dockerManifestEntry{}, fmt.Errorf("%s: a docker archive holds one platform; "+
			"give the image of one", tagList(ni.Tags))
	}
	m, err := ni.Image.Manifest()
	if err != nil {
		return dockerManifestEntry{}, fmt.Errorf("reading the manifest: %w", err)
	}
	e := dockerManifestEntry{Config: blobName(m.Config.Digest), RepoTags: []string{}}
	for _, n := range names {
		e.RepoTags = append(e.RepoTags, familiar(n))
	}
	for _, l := range m.Layers {
		e.Layers = append(e.Layers, blobName(l.Digest))
	}
	return e, nil
}

// WriteOCIArchive writes imgs into one OCI image layout tar at path (what
// `skopeo copy oci-archive:` reads), with an index entry per name annotated
// as WriteOCILayout does, and each blob once.
func WriteOCIArchive(ctx context.Context, path string, imgs []NamedImage) error {
	return writeArchive(ctx, path, "OCI archive", imgs, nil)
}

// writeArchive writes an OCI layout of imgs as a tar at path, with a
// manifest.json of Docker's after index.json unless dockerManifest is nil.
func writeArchive(ctx context.Context, path, what string, imgs []NamedImage,
	dockerManifest []byte) error {
	var idx v1.ImageIndex = empty.Index
	for _, ni := range imgs {
		one, err := outputIndex(ni.artifact(dockerManifest), ni.Tags)
		if err != nil {
			return fmt.Errorf("writing %s %s: %w", what, path, err)
		}
		im, err := one.IndexManifest()
		if err != nil {
			return fmt.Errorf("writing %s %s: %w", what, path, err)
		}
		for _, d := range im.Manifests {
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
				Add: ni.artifact(dockerManifest), Descriptor: d})
		}
	}
	rawIndex, err := idx.RawManifest()
	if err != nil {
		return fmt.Errorf("writing %s %s: %w", what, path, err)
	}
	return writeFileAtomic(ctx, path, what, func(f *os.File) error {
		tw := tar.NewWriter(f)
		if err := writeTarFile(tw, "oci-layout", []byte(layoutFile)); err != nil {
			return err
		}
		if err := writeTarFile(tw, "index.json", rawIndex); err != nil {
			return err
		}
		if dockerManifest != nil {
			if err := writeTarFile(tw, "manifest.json", dockerManifest); err != nil {
				return err
			}
		}
		for _, d := range []string{"blobs/", "blobs/sha256/"} {
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch()}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		seen := map[v1.Hash]bool{}
		for _, ni := range imgs {
			if err := writeArtifactBlobs(ctx, tw, ni.artifact(dockerManifest), seen); err != nil {
				return err
			}
		}
		return tw.Close()
	})
}

// artifact is what an archive holds of ni: its image in a docker archive
// (dockerManifest set) or when it has no index, else its index.
func (ni NamedImage) artifact(dockerManifest []byte) mutate.Appendable {
	if ni.Index != nil && dockerManifest == nil {
		return ni.Index
	}
	return ni.Image
}
