package registry

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// minIDPrefix is the shortest image ID prefix Image accepts, as short IDs
// are printed with 12 hex digits.
const minIDPrefix = 12

// StoredImage describes one image of the local store.
type StoredImage struct {
	// Tags are the full names of the image ("docker.io/library/app:1"),
	// empty for an untagged image.
	Tags []string
	// Digest is the digest of the index entry: the image manifest, or the
	// image index (an image with its attestations, or several platforms).
	Digest v1.Hash
	// ID is the image ID: the digest of the image config, as Docker shows.
	ID v1.Hash
	// Created is the creation time recorded in the config.
	Created time.Time
	// Size is the sum of the sizes of the manifest, config and (compressed)
	// layer blobs.
	Size int64
}

// Image returns the stored image ref names: a tag ("app", "app:1",
// "docker.io/library/app:1"), a manifest digest ("sha256:…"), a name with a
// digest, or an image ID or a unique prefix of it of at least 12 hex digits
// (with or without "sha256:"). For an index it is the image the index
// stands for in List: the host platform's, or the first when the host's is
// not there (see imageEntry). The error wraps ErrNotFound when there is no
// such image.
func (s *ImageStore) Image(ref string) (v1.Image, error) {
	ii, d, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsIndex() {
		img, err := ii.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading image %s: %w", ref, err)
		}
		return img, nil
	}
	child, err := s.imageEntry(d)
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", ref, err)
	}
	idx, err := ii.ImageIndex(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", ref, err)
	}
	img, err := idx.Image(child.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", ref, err)
	}
	return img, nil
}

// resolve finds the entry of the image ref names among ms.
func (s *ImageStore) resolve(ms []v1.Descriptor, ref string) (v1.Descriptor, error) {
	if strings.Contains(ref, "@") {
		if dig, err := name.NewDigest(ref); err == nil {
			ref = dig.DigestStr()
		}
	}
	hex, explicit := strings.CutPrefix(ref, "sha256:")
	if !explicit {
		if n, err := NormalizeTag(ref); err == nil {
			for _, d := range ms {
				if entryName(d) == n {
					return d, nil
				}
			}
		}
	}
	if explicit && len(hex) == 64 {
		for _, d := range ms {
			if d.Digest.Hex == hex {
				return d, nil
			}
		}
	}
	if isHex(hex) && len(hex) >= minIDPrefix && len(hex) <= 64 {
		return s.resolveID(ms, ref, hex)
	}
	return v1.Descriptor{}, fmt.Errorf("looking up image %s: %w", ref, ErrNotFound)
}

// resolveID finds the one image whose ID starts with prefix. Entries with
// the same ID are one image (an index and the image manifest it lists, as
// a rebuild with --sbom leaves them): the preferred one stands for it.
func (s *ImageStore) resolveID(ms []v1.Descriptor, ref, prefix string) (v1.Descriptor, error) {
	var found []v1.Descriptor
	ids := map[v1.Hash]bool{}
	for _, d := range ms {
		m, err := s.imageManifest(d)
		if err != nil {
			continue
		}
		if strings.HasPrefix(m.Config.Digest.Hex, prefix) {
			found = append(found, d)
			ids[m.Config.Digest] = true
		}
	}
	switch len(ids) {
	case 0:
		return v1.Descriptor{}, fmt.Errorf("looking up image %s: %w", ref, ErrNotFound)
	case 1:
		return preferred(found), nil
	}
	return v1.Descriptor{}, fmt.Errorf("looking up image %s: the ID prefix matches %d images",
		ref, len(ids))
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return s != ""
}

// manifest reads and parses the manifest an index entry points at.
func (s *ImageStore) manifest(d v1.Descriptor) (*v1.Manifest, error) {
	b, err := os.ReadFile(s.blobPath(d.Digest))
	if err != nil {
		return nil, fmt.Errorf("reading manifest %s: %w", d.Digest, err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest %s: %w", d.Digest, err)
	}
	return m, nil
}

// List describes every image of the store, in the order of the index, with
// its names.
func (s *ImageStore) List() ([]StoredImage, error) {
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []StoredImage
	pos := map[v1.Hash]int{}
	for _, d := range im.Manifests {
		i, ok := pos[d.Digest]
		if !ok {
			si, err := s.describe(d)
			if err != nil {
				return nil, fmt.Errorf("listing images: %w", err)
			}
			i = len(out)
			pos[d.Digest] = i
			out = append(out, si)
		}
		if n := entryName(d); n != "" {
			out[i].Tags = append(out[i].Tags, n)
		}
	}
	return out, nil
}

// describe reads what List reports about the image of entry d: for an
// index, the ID and size of the image it stands for (see imageEntry).
func (s *ImageStore) describe(d v1.Descriptor) (StoredImage, error) {
	child, err := s.imageEntry(d)
	if err != nil {
		return StoredImage{}, err
	}
	m, err := s.manifest(child)
	if err != nil {
		return StoredImage{}, err
	}
	b, err := os.ReadFile(s.blobPath(m.Config.Digest))
	if err != nil {
		return StoredImage{}, fmt.Errorf("reading config %s: %w", m.Config.Digest, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(b))
	if err != nil {
		return StoredImage{}, fmt.Errorf("parsing config %s: %w", m.Config.Digest, err)
	}
	size := child.Size + m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	return StoredImage{
		Digest:  d.Digest,
		ID:      m.Config.Digest,
		Created: cfg.Created.Time,
		Size:    size,
	}, nil
}
