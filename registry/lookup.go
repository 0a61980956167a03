package registry

import (
	"bytes"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// An image of the store is, as Docker counts images, everything with one
// image ID: an image manifest, an index holding it (the same image with its
// attestations, or with the images of other platforms) and any copy of them
// under another digest. The index entries of one image are told apart only
// when a digest names one of them.

// Entry is an entry of the store's index.json with all its names.
type Entry struct {
	// Descriptor is the entry: an image manifest, or an image index (the
	// images of several platforms, or an image with its attestations).
	Descriptor v1.Descriptor
	// Tags are the full names of the entry, in index order; none for an
	// untagged (dangling) image.
	Tags []string
	// ID is the image ID: the config digest of the image, for an index
	// that of the host platform's image (see imageManifest).
	ID v1.Hash
}

// Lookup returns the index entry ref names (any form Image accepts). For
// an image ID that several entries share, it is the entry a tag names,
// an index rather than an image inside it.
func (s *ImageStore) Lookup(ref string) (Entry, error) {
	im, err := s.readIndex()
	if err != nil {
		return Entry{}, err
	}
	d, err := s.resolve(im.Manifests, ref)
	if err != nil {
		return Entry{}, err
	}
	m, err := s.imageManifest(d)
	if err != nil {
		return Entry{}, fmt.Errorf("looking up image %s: %w", ref, err)
	}
	return Entry{Descriptor: bareEntry(d), Tags: namesOf(im.Manifests, d.Digest),
		ID: m.Config.Digest}, nil
}

// Index returns the image index ref names (see Lookup), with its images
// and attestation manifests. The error wraps ErrNotFound when there is no
// such entry, and says so when the entry is an image manifest.
func (s *ImageStore) Index(ref string) (v1.ImageIndex, error) {
	ii, d, err := s.find(ref)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("reading index %s: %s is an image manifest", ref, d.Digest)
	}
	idx, err := ii.ImageIndex(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", ref, err)
	}
	return idx, nil
}

// children lists the digests of the manifests an index entry lists; none
// for an image manifest or an index that cannot be read.
func (s *ImageStore) children(d v1.Descriptor) map[v1.Hash]bool {
	if !d.MediaType.IsIndex() {
		return nil
	}
	b, err := os.ReadFile(s.blobPath(d.Digest))
	if err != nil {
		return nil
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	out := make(map[v1.Hash]bool, len(im.Manifests))
	for _, c := range im.Manifests {
		out[c.Digest] = true
	}
	return out
}

// nested returns a function that reports whether an entry and desc are
// one image because one is an index that lists the other, as when a
// rebuild with --sbom wraps the same image manifest in an index.
func (s *ImageStore) nested(desc v1.Descriptor) func(v1.Descriptor) bool {
	inside := s.children(desc)
	return func(d v1.Descriptor) bool {
		return inside[d.Digest] || s.children(d)[desc.Digest]
	}
}

// sameID lists the entries of ms whose image ID is id, in index order.
func (s *ImageStore) sameID(ms []v1.Descriptor, id v1.Hash) []v1.Descriptor {
	var out []v1.Descriptor
	for _, d := range ms {
		if m, err := s.imageManifest(d); err == nil && m.Config.Digest == id {
			out = append(out, d)
		}
	}
	return out
}

// preferred picks the entry an image ID stands for among the entries of
// one image: a named one before an unnamed one, and an index before the
// image manifests it lists.
func preferred(found []v1.Descriptor) v1.Descriptor {
	best := found[0]
	rank := func(d v1.Descriptor) int {
		r := 0
		if entryName(d) != "" {
			r += 2
		}
		if d.MediaType.IsIndex() {
			r++
		}
		return r
	}
	for _, d := range found[1:] {
		if rank(d) > rank(best) {
			best = d
		}
	}
	return best
}

// find opens the store's index and resolves ref to one of its entries.
func (s *ImageStore) find(ref string) (v1.ImageIndex, v1.Descriptor, error) {
	ii, err := layout.Path(s.Root).ImageIndex()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading image store %s: %w", s.Root, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, v1.Descriptor{}, fmt.Errorf("reading image store %s: %w", s.Root, err)
	}
	d, err := s.resolve(im.Manifests, ref)
	return ii, d, err
}
