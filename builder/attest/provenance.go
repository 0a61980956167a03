package attest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BuildType identifies the meaning of the build definition ibuild writes.
const BuildType = "https://github.com/ibuild/ibuild/provenance/dockerfile@v1"

// BuilderID identifies ibuild as the builder; Provenance appends "@version".
const BuilderID = "https://github.com/ibuild/ibuild"

// Build is what the provenance of one build states.
type Build struct {
	// DockerfileName is the Dockerfile as the user named it and
	// DockerfileDigest the digest of its content.
	DockerfileName   string
	DockerfileDigest v1.Hash
	// ContextDigest identifies the build context (see the builder); zero
	// when there was none.
	ContextDigest v1.Hash
	Target        string
	Platform      v1.Platform
	// Args are the build arguments given, without those Omitted names with
	// the reason each was left out.
	Args    map[string]string
	Omitted map[string]string
	// SecretIDs are the ids of the secrets the build was given; their
	// values are never recorded.
	SecretIDs []string
	// Images are the images the build read: FROM, COPY --from and
	// RUN --mount=from.
	Images []Dependency
	// Version is ibuild's version.
	Version      string
	InvocationID string
	Started      time.Time
	Finished     time.Time
}

// Dependency is an image the build read.
type Dependency struct {
	// Ref is the image's full name as the Dockerfile gave it, expanded.
	Ref      string
	Digest   v1.Hash
	Platform v1.Platform
}

// The parts of an SLSA v1 provenance predicate this package writes.
type (
	slsaPredicate struct {
		BuildDefinition slsaDefinition `json:"buildDefinition"`
		RunDetails      slsaRun        `json:"runDetails"`
	}
	slsaDefinition struct {
		BuildType            string          `json:"buildType"`
		ExternalParameters   slsaExternal    `json:"externalParameters"`
		ResolvedDependencies []slsaResource  `json:"resolvedDependencies"`
		InternalParameters   json.RawMessage `json:"internalParameters,omitempty"`
	}
	slsaExternal struct {
		ConfigSource slsaResource  `json:"configSource"`
		Context      *slsaResource `json:"context,omitempty"`
		Request      slsaRequest   `json:"request"`
	}
	slsaRequest struct {
		Target      string            `json:"target,omitempty"`
		Platform    string            `json:"platform"`
		Args        map[string]string `json:"args,omitempty"`
		OmittedArgs map[string]string `json:"omittedArgs,omitempty"`
		Secrets     []string          `json:"secrets,omitempty"`
	}
	slsaResource struct {
		URI    string            `json:"uri,omitempty"`
		Name   string            `json:"name,omitempty"`
		Path   string            `json:"path,omitempty"`
		Digest map[string]string `json:"digest"`
	}
	slsaRun struct {
		Builder  slsaBuilder  `json:"builder"`
		Metadata slsaMetadata `json:"metadata"`
	}
	slsaBuilder struct {
		ID      string            `json:"id"`
		Version map[string]string `json:"version"`
	}
	slsaMetadata struct {
		InvocationID string `json:"invocationId"`
		StartedOn    string `json:"startedOn"`
		FinishedOn   string `json:"finishedOn"`
	}
)

// Provenance writes the SLSA v1 provenance predicate of b.
func Provenance(b Build) ([]byte, error) {
	p := slsaPredicate{
		BuildDefinition: slsaDefinition{
			BuildType: BuildType,
			ExternalParameters: slsaExternal{
				ConfigSource: slsaResource{Path: b.DockerfileName,
					Digest: digestMap(b.DockerfileDigest)},
				Request: slsaRequest{Target: b.Target, Platform: platformString(b.Platform),
					Args: b.Args, OmittedArgs: b.Omitted, Secrets: b.SecretIDs},
			},
			ResolvedDependencies: []slsaResource{},
		},
		RunDetails: slsaRun{
			Builder: slsaBuilder{ID: BuilderID + "@" + b.Version,
				Version: map[string]string{"ibuild": b.Version}},
			Metadata: slsaMetadata{InvocationID: b.InvocationID,
				StartedOn:  b.Started.UTC().Format(time.RFC3339Nano),
				FinishedOn: b.Finished.UTC().Format(time.RFC3339Nano)},
		},
	}
	if b.ContextDigest.Hex != "" {
		p.BuildDefinition.ExternalParameters.Context = &slsaResource{Name: "context",
			Digest: digestMap(b.ContextDigest)}
	}
	seen := map[string]bool{}
	for _, d := range b.Images {
		u, err := ImageURL(d.Ref, &d.Platform)
		if err != nil {
			return nil, fmt.Errorf("naming dependency %s: %w", d.Ref, err)
		}
		if key := u + " " + d.Digest.String(); !seen[key] {
			seen[key] = true
			p.BuildDefinition.ResolvedDependencies = append(p.BuildDefinition.ResolvedDependencies,
				slsaResource{URI: u, Digest: digestMap(d.Digest)})
		}
	}
	slices.SortFunc(p.BuildDefinition.ResolvedDependencies, func(a, b slsaResource) int {
		return cmp.Compare(a.URI, b.URI)
	})
	out, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding the provenance: %w", err)
	}
	return out, nil
}

func digestMap(h v1.Hash) map[string]string {
	return map[string]string{h.Algorithm: h.Hex}
}

// secretName matches build argument names that look like they hold a
// secret: their values are never written into provenance.
var secretName = regexp.MustCompile(`(?i)(TOKEN|PASSW|PASSPHRASE|SECRET|KEY|CREDENTIAL)`)

// SecretLike reports whether a build argument's name looks like it holds a
// secret (TOKEN, PASSWORD, SECRET, KEY, …).
func SecretLike(name string) bool { return secretName.MatchString(name) }
