package registry

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The media types and annotations of attestations, as BuildKit lays them
// out: an attestation manifest per image, listed in the image index next
// to the image it describes, whose layers are in-toto statements.
const (
	// MediaTypeInToto is the media type of a layer holding an in-toto
	// statement.
	MediaTypeInToto types.MediaType = "application/vnd.in-toto+json"
	// AnnotationPredicateType, on such a layer, names the predicate type.
	AnnotationPredicateType = "in-toto.io/predicate-type"
	// AnnotationReferenceType and AnnotationReferenceDigest, on the index
	// entry of an attestation manifest, say what it is and which image
	// manifest it describes.
	AnnotationReferenceType   = "vnd.docker.reference.type"
	AnnotationReferenceDigest = "vnd.docker.reference.digest"
	// ReferenceTypeAttestation is the value of AnnotationReferenceType.
	ReferenceTypeAttestation = "attestation-manifest"
	// ArtifactTypeAttestation is the artifact type of an attestation
	// manifest, which OCI 1.1 referrers listings show.
	ArtifactTypeAttestation = "application/vnd.docker.attestation.manifest.v1+json"
)

// attestationPlatform is the platform of an attestation manifest's index
// entry, so that platform selection never picks it.
var attestationPlatform = v1.Platform{OS: "unknown", Architecture: "unknown"}

// Attestation is one in-toto statement about an image.
type Attestation struct {
	// PredicateType is the statement's predicate type, such as
	// "https://spdx.dev/Document".
	PredicateType string
	// Statement is the statement's JSON.
	Statement []byte
}

// Attach returns an image index listing img (for platform p) and an
// attestation manifest holding atts.
func Attach(img v1.Image, p v1.Platform, atts []Attestation) (v1.ImageIndex, error) {
	add, err := AttestationAddendum(img, atts)
	if err != nil {
		return nil, err
	}
	var idx v1.ImageIndex = empty.Index
	if mt, err := img.MediaType(); err == nil && mt == types.DockerManifestSchema2 {
		idx = mutate.IndexMediaType(idx, types.DockerManifestList)
	}
	return mutate.AppendManifests(idx,
		mutate.IndexAddendum{Add: plainEntry{img}, Descriptor: v1.Descriptor{Platform: &p}},
		add), nil
}

// plainEntry lists an image in an index without an artifactType, as
// BuildKit does; go-containerregistry would add the config media type.
type plainEntry struct{ v1.Image }

// Descriptor implements partial.Describable.
func (b plainEntry) Descriptor() (*v1.Descriptor, error) {
	mt, err := b.MediaType()
	if err != nil {
		return nil, err
	}
	d, err := b.Digest()
	if err != nil {
		return nil, err
	}
	n, err := b.Size()
	if err != nil {
		return nil, err
	}
	return &v1.Descriptor{MediaType: mt, Digest: d, Size: n}, nil
}

// AttestationAddendum is the index entry of the attestation manifest that
// holds atts about img: platform unknown/unknown, annotated with the
// reference type and img's manifest digest. The manifest also names img as
// its OCI 1.1 subject, so registries with the referrers API (or the
// referrers tag scheme) list it for img's digest.
func AttestationAddendum(img v1.Image, atts []Attestation) (mutate.IndexAddendum, error) {
	subject, err := partial.Descriptor(img)
	if err != nil {
		return mutate.IndexAddendum{}, fmt.Errorf("describing the attested image: %w", err)
	}
	am, err := attestationManifest(*subject, atts)
	if err != nil {
		return mutate.IndexAddendum{}, err
	}
	p := attestationPlatform
	return mutate.IndexAddendum{Add: plainEntry{am}, Descriptor: v1.Descriptor{
		Platform: &p,
		Annotations: map[string]string{
			AnnotationReferenceType:   ReferenceTypeAttestation,
			AnnotationReferenceDigest: subject.Digest.String(),
		},
	}}, nil
}

// attestationManifest makes the manifest of atts as BuildKit (0.13 and
// later) writes it: one uncompressed layer per statement, the empty JSON
// config, the attestation artifact type, and img as the OCI 1.1 subject.
// For an image with Docker media types, which cannot carry a subject, it
// is a Docker manifest with a config of platform unknown/unknown, as
// BuildKit writes it with oci-mediatypes=false.
func attestationManifest(subject v1.Descriptor, atts []Attestation) (v1.Image, error) {
	ai := &attestationImage{layers: map[v1.Hash]v1.Layer{}, mediaType: types.OCIManifestSchema1,
		config: []byte("{}")}
	m := v1.Manifest{SchemaVersion: 2, MediaType: ai.mediaType, Layers: []v1.Descriptor{},
		ArtifactType: ArtifactTypeAttestation,
		Subject: &v1.Descriptor{MediaType: subject.MediaType, Size: subject.Size,
			Digest: subject.Digest}}
	cfgType := types.OCIEmptyJSON
	if subject.MediaType == types.DockerManifestSchema2 {
		ai.mediaType, cfgType = types.DockerManifestSchema2, types.DockerConfigJSON
		m.MediaType, m.ArtifactType, m.Subject = ai.mediaType, "", nil
		cfg, err := json.Marshal(v1.ConfigFile{OS: attestationPlatform.OS,
			Architecture: attestationPlatform.Architecture, RootFS: v1.RootFS{Type: "layers"}})
		if err != nil {
			return nil, fmt.Errorf("encoding the attestation config: %w", err)
		}
		ai.config = cfg
	}
	for _, a := range atts {
		l := static.NewLayer(a.Statement, MediaTypeInToto)
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		ai.layers[d] = l
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: MediaTypeInToto,
			Size: int64(len(a.Statement)), Digest: d,
			Annotations: map[string]string{AnnotationPredicateType: a.PredicateType}})
	}
	cd, size, err := v1.SHA256(bytes.NewReader(ai.config))
	if err != nil {
		return nil, err
	}
	m.Config = v1.Descriptor{MediaType: cfgType, Size: size, Digest: cd}
	if cfgType == types.OCIEmptyJSON {
		m.Config.Data = ai.config
	}
	ai.layers[cd] = static.NewLayer(ai.config, cfgType)
	if ai.manifest, err = json.Marshal(m); err != nil {
		return nil, fmt.Errorf("encoding the attestation manifest: %w", err)
	}
	return partial.CompressedToImage(ai)
}

// attestationImage is an attestation manifest with its blobs in memory.
type attestationImage struct {
	manifest  []byte
	config    []byte
	mediaType types.MediaType
	layers    map[v1.Hash]v1.Layer
}

// RawConfigFile, MediaType, RawManifest and LayerByDigest implement
// partial.CompressedImageCore.

func (a *attestationImage) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *attestationImage) MediaType() (types.MediaType, error) { return a.mediaType, nil }
func (a *attestationImage) RawManifest() ([]byte, error)        { return a.manifest, nil }

func (a *attestationImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.layers[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("attestation manifest has no blob %s", h)
}
