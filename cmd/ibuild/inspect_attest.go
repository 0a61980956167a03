package main

import (
	"fmt"
	"io"

	"github.com/ibuild/ibuild/builder"
	"github.com/ibuild/ibuild/registry"
)

// attestKinds lists the attestations `inspect --sbom --provenance` prints.
func (f *inspectFlags) attestKinds() []string {
	var kinds []string
	if f.sbom {
		kinds = append(kinds, builder.AttestSBOM)
	}
	if f.provenance {
		kinds = append(kinds, builder.AttestProvenance)
	}
	return kinds
}

// printAttestations prints, for each image, the predicate of each kind of
// attestation: the SPDX or CycloneDX document, the SLSA provenance.
func printAttestations(w io.Writer, st *registry.ImageStore, refs, kinds []string) error {
	for _, ref := range refs {
		for _, k := range kinds {
			b, err := builder.StoredAttestation(st, ref, k)
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "%s\n", b)
		}
	}
	return nil
}
