package attest

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The predicate types of the statements this package makes, as BuildKit
// and the scanners that read its attestations name them.
const (
	PredicateSPDX       = "https://spdx.dev/Document"
	PredicateCycloneDX  = "https://cyclonedx.org/bom"
	PredicateProvenance = "https://slsa.dev/provenance/v1"
)

// StatementType is the in-toto statement version this package writes.
const StatementType = "https://in-toto.io/Statement/v1"

// Statement is an in-toto statement: a predicate about subjects, which are
// artifacts named by their digests.
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject is one artifact a statement is about.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Image names the image the statements describe.
type Image struct {
	// Names are its full names ("docker.io/library/app:1"); there may be
	// none.
	Names []string
	// Digest is the digest of its manifest.
	Digest   v1.Hash
	Platform v1.Platform
}

// subjects are the in-toto subjects for img: one per name, as BuildKit
// writes them (pkg:docker/app@1?platform=linux%2Famd64), or "_" for an
// image without a name.
func (img Image) subjects() ([]Subject, error) {
	digest := map[string]string{img.Digest.Algorithm: img.Digest.Hex}
	if len(img.Names) == 0 {
		return []Subject{{Name: "_", Digest: digest}}, nil
	}
	out := make([]Subject, 0, len(img.Names))
	for _, n := range img.Names {
		u, err := ImageURL(n, &img.Platform)
		if err != nil {
			return nil, fmt.Errorf("naming subject %s: %w", n, err)
		}
		out = append(out, Subject{Name: u, Digest: digest})
	}
	return out, nil
}

// NewStatement wraps a predicate, already encoded, in a statement about img
// and returns the statement's JSON.
func NewStatement(img Image, predicateType string, predicate []byte) ([]byte, error) {
	subj, err := img.subjects()
	if err != nil {
		return nil, err
	}
	st := Statement{Type: StatementType, Subject: subj, PredicateType: predicateType,
		Predicate: predicate}
	b, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding the %s statement: %w", predicateType, err)
	}
	return b, nil
}

// ParseStatement decodes an in-toto statement.
func ParseStatement(b []byte) (*Statement, error) {
	var st Statement
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("parsing in-toto statement: %w", err)
	}
	if st.PredicateType == "" || len(st.Predicate) == 0 {
		return nil, fmt.Errorf("parsing in-toto statement: no predicate")
	}
	return &st, nil
}
