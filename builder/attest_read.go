package builder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ibuild/ibuild/builder/attest"
	"github.com/ibuild/ibuild/registry"
)

// Attestations are the in-toto statements attached to an image.
type Attestations struct {
	// Image is the digest of the image manifest they are about.
	Image      v1.Hash
	Statements []attest.Statement
}

// ErrNoAttestation says an image carries no attestation of the kind asked.
var ErrNoAttestation = errors.New("the image has no such attestation")

// ReadAttestations returns the attestations of the image ref names: from
// the local store at root when it has ref, else from ref's registry (the
// index the tag names, or the OCI referrers of the image's digest).
func ReadAttestations(ctx context.Context, root, ref string, reg registry.Options) (*Attestations,
	error) {
	var (
		image v1.Hash
		atts  []registry.Attestation
	)
	store, err := registry.OpenImageStore(root)
	if err == nil {
		image, atts, err = store.Attestations(ref)
	}
	if errors.Is(err, registry.ErrNotFound) {
		image, atts, err = registry.RemoteAttestations(ctx, ref, reg)
	}
	if err != nil {
		return nil, err
	}
	return decodeAttestations(ref, image, atts)
}

func decodeAttestations(ref string, image v1.Hash, atts []registry.Attestation) (*Attestations,
	error) {
	out := &Attestations{Image: image}
	for _, a := range atts {
		st, err := attest.ParseStatement(a.Statement)
		if err != nil {
			return nil, fmt.Errorf("reading the %s attestation of %s: %w", a.PredicateType,
				ref, err)
		}
		out.Statements = append(out.Statements, *st)
	}
	return out, nil
}

// SBOM returns the predicate of the SBOM statement (an SPDX or CycloneDX
// JSON document) and its predicate type; the error wraps ErrNoAttestation
// when there is none.
func (a *Attestations) SBOM() ([]byte, string, error) {
	return a.predicate(attest.PredicateSPDX, attest.PredicateCycloneDX)
}

// Provenance returns the predicate of the SLSA provenance statement.
func (a *Attestations) Provenance() ([]byte, string, error) {
	return a.predicate(attest.PredicateProvenance)
}

func (a *Attestations) predicate(types ...string) ([]byte, string, error) {
	for _, st := range a.Statements {
		for _, t := range types {
			if st.PredicateType == t {
				return st.Predicate, t, nil
			}
		}
	}
	return nil, "", fmt.Errorf("%s: %w", a.Image, ErrNoAttestation)
}

// The kinds of attestation StoredAttestation reads.
const (
	AttestSBOM       = "sbom"
	AttestProvenance = "provenance"
)

// StoredAttestation returns, indented, the predicate of the SBOM or the
// provenance (kind AttestSBOM or AttestProvenance) of the image the local
// store has under ref: the SPDX or CycloneDX document, or the SLSA
// provenance. The error wraps ErrNoAttestation when the image has none.
func StoredAttestation(st *registry.ImageStore, ref, kind string) ([]byte, error) {
	image, atts, err := st.Attestations(ref)
	if err != nil {
		return nil, err
	}
	a, err := decodeAttestations(ref, image, atts)
	if err != nil {
		return nil, err
	}
	var pred []byte
	if kind == AttestProvenance {
		pred, _, err = a.Provenance()
	} else {
		pred, _, err = a.SBOM()
	}
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", kind, ref, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, pred, "", "  "); err != nil {
		return nil, fmt.Errorf("reading the %s of %s: %w", kind, ref, err)
	}
	return out.Bytes(), nil
}

// attestationAddenda are the attestation manifests of a build's Index, as
// entries for an index of several platforms.
func attestationAddenda(res *Result) ([]mutate.IndexAddendum, error) {
	if res.Index == nil {
		return nil, nil
	}
	im, err := res.Index.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []mutate.IndexAddendum
	for _, d := range im.Manifests {
		if !registry.IsAttestation(d) {
			continue
		}
		img, err := res.Index.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		out = append(out, mutate.IndexAddendum{Add: img,
			Descriptor: v1.Descriptor{Platform: d.Platform, Annotations: d.Annotations}})
	}
	return out, nil
}

// attestedImage is the one image of an index that holds an image and its
// attestations, for outputs that hold one image (type=docker): those drop
// the attestations, as BuildKit's docker exporter does.
// TODO: tell the user the docker archive has no attestations; Export has
// no way to return a warning yet.
func attestedImage(idx v1.ImageIndex) (v1.Image, bool) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, false
	}
	var found []v1.Descriptor
	attested := false
	for _, d := range im.Manifests {
		if registry.IsAttestation(d) {
			attested = true
		} else {
			found = append(found, d)
		}
	}
	if !attested || len(found) != 1 || !found[0].MediaType.IsImage() {
		return nil, false
	}
	img, err := idx.Image(found[0].Digest)
	return img, err == nil
}
