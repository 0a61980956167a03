package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxStatement bounds the size of an attestation read back.
const maxStatement = 256 << 20

// IsAttestation reports whether an index entry is an attestation manifest.
func IsAttestation(d v1.Descriptor) bool {
	return d.Annotations[AnnotationReferenceType] == ReferenceTypeAttestation
}

// IndexAttestations returns the attestations idx lists for the image whose
// manifest digest is image, in the order of the index.
func IndexAttestations(idx v1.ImageIndex, image v1.Hash) ([]Attestation, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading the index: %w", err)
	}
	var out []Attestation
	for _, d := range im.Manifests {
		if !IsAttestation(d) || d.Annotations[AnnotationReferenceDigest] != image.String() {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading attestation manifest %s: %w", d.Digest, err)
		}
		atts, err := readAttestations(img)
		if err != nil {
			return nil, fmt.Errorf("reading attestation manifest %s: %w", d.Digest, err)
		}
		out = append(out, atts...)
	}
	return out, nil
}

// readAttestations reads the in-toto layers of an attestation manifest.
func readAttestations(img v1.Image) ([]Attestation, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	var out []Attestation
	for _, l := range m.Layers {
		if l.MediaType != MediaTypeInToto {
			continue
		}
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		rc, err := layer.Compressed()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxStatement))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("reading statement %s: %w", l.Digest, err)
		}
		out = append(out, Attestation{PredicateType: l.Annotations[AnnotationPredicateType],
			Statement: b})
	}
	return out, nil
}

// Attestations returns the manifest digest of the image the local store
// has under ref (for the host's platform when ref names an index) and the
// attestations stored with it; an image stored without any has none.
func (s *ImageStore) Attestations(ref string) (v1.Hash, []Attestation, error) {
	ii, d, err := s.find(ref)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	if !d.MediaType.IsIndex() {
		return d.Digest, nil, nil
	}
	idx, err := ii.ImageIndex(d.Digest)
	if err != nil {
		return v1.Hash{}, nil, fmt.Errorf("reading index %s: %w", ref, err)
	}
	image, atts, err := platformAttestations(idx, HostPlatform())
	if err != nil {
		return v1.Hash{}, nil, fmt.Errorf("reading attestations of %s: %w", ref, err)
	}
	return image, atts, nil
}

// platformAttestations picks the image for p in idx and returns its digest
// and the attestations idx lists for it.
func platformAttestations(idx v1.ImageIndex, p v1.Platform) (v1.Hash, []Attestation, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, nil, err
	}
	child, err := pickImage(im, p)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	atts, err := IndexAttestations(idx, child.Digest)
	return child.Digest, atts, err
}

// RemoteAttestations asks ref's registry for the image ref names (for
// o.Platform when ref names an index) and returns its manifest digest and
// its attestations: those the index lists next to it, or else those the
// OCI 1.1 referrers API lists for its digest (with the referrers tag
// scheme, sha256-HEX, where the registry lacks the API).
func RemoteAttestations(ctx context.Context, ref string, o Options) (v1.Hash, []Attestation,
	error) {
	r, err := o.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	opts := o.remoteOptions(ctx)
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return v1.Hash{}, nil, remoteError("reading attestations of", r, r, "", err)
	}
	image := desc.Digest
	if desc.MediaType.IsIndex() {
		idx, err := desc.ImageIndex()
		if err != nil {
			return v1.Hash{}, nil, remoteError("reading attestations of", r, r, "", err)
		}
		var atts []Attestation
		image, atts, err = platformAttestations(idx, o.platform())
		if err != nil || len(atts) > 0 {
			return image, atts, wrapRemote(r, err)
		}
	}
	atts, err := referrerAttestations(r.Context().Digest(image.String()), opts)
	return image, atts, wrapRemote(r, err)
}

// referrerAttestations reads the attestation manifests that name d as
// their subject.
func referrerAttestations(d name.Digest, opts []remote.Option) ([]Attestation, error) {
	idx, err := remote.Referrers(d, opts...)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []Attestation
	for _, m := range im.Manifests {
		// Some registries list the config media type even when the
		// manifest has an artifact type; look inside those.
		switch types.MediaType(m.ArtifactType) {
		case ArtifactTypeAttestation, types.OCIEmptyJSON, types.OCIConfigJSON:
		default:
			continue
		}
		img, err := remote.Image(d.Context().Digest(m.Digest.String()), opts...)
		if err != nil {
			return nil, err
		}
		if mf, err := img.Manifest(); err != nil || mf.ArtifactType != ArtifactTypeAttestation {
			continue
		}
		atts, err := readAttestations(img)
		if err != nil {
			return nil, fmt.Errorf("reading attestation manifest %s: %w", m.Digest, err)
		}
		out = append(out, atts...)
	}
	return out, nil
}

func wrapRemote(r name.Reference, err error) error {
	if err == nil {
		return nil
	}
	return remoteError("reading attestations of", r, r, "", err)
}

// imageManifest is the manifest of the image an index entry of the store
// stands for (see imageEntry).
func (s *ImageStore) imageManifest(d v1.Descriptor) (*v1.Manifest, error) {
	child, err := s.imageEntry(d)
	if err != nil {
		return nil, err
	}
	return s.manifest(child)
}

// imageEntry is the descriptor of the image manifest an index entry of the
// store stands for: the entry itself, or for an index (an image with its
// attestations, or several platforms) that of the host's platform, or of
// its first platform when the host's is not there, so that such an index
// still has an ID and a size to list.
func (s *ImageStore) imageEntry(d v1.Descriptor) (v1.Descriptor, error) {
	if !d.MediaType.IsIndex() {
		return d, nil
	}
	b, err := os.ReadFile(s.blobPath(d.Digest))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading index %s: %w", d.Digest, err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("parsing index %s: %w", d.Digest, err)
	}
	child, err := pickImage(im, HostPlatform())
	if err == nil {
		return child, nil
	}
	for _, c := range im.Manifests {
		if c.MediaType.IsImage() && !IsAttestation(c) {
			return c, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("reading index %s: %w", d.Digest, err)
}

// pickImage is the image of an index for platform p or, when there is none
// but the index holds one image (with its attestations, built for another
// platform), that image.
func pickImage(im *v1.IndexManifest, p v1.Platform) (v1.Descriptor, error) {
	child, err := selectManifest(im, p)
	if err == nil {
		return child, nil
	}
	var images []v1.Descriptor
	for _, d := range im.Manifests {
		if d.MediaType.IsImage() && !IsAttestation(d) {
			images = append(images, d)
		}
	}
	if len(images) == 1 {
		return images[0], nil
	}
	return v1.Descriptor{}, err
}
