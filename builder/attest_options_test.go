package builder

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ibuild/ibuild/registry"
)

func TestParseAttestFlags(t *testing.T) {
	tests := []struct {
		name       string
		sbom, prov string
		attest     []string
		want       AttestOptions
		err        bool
	}{
		{name: "none", want: AttestOptions{}},
		{name: "bare --sbom", sbom: "spdx", want: AttestOptions{SBOM: SBOMSPDX}},
		{name: "--sbom=true", sbom: "true", want: AttestOptions{SBOM: SBOMSPDX}},
		{name: "--sbom=cyclonedx", sbom: "cyclonedx", want: AttestOptions{SBOM: SBOMCycloneDX}},
		{name: "--sbom=format=cyclonedx", sbom: "format=cyclonedx",
			want: AttestOptions{SBOM: SBOMCycloneDX}},
		{name: "--sbom=false", sbom: "false", want: AttestOptions{}},
		{name: "--sbom=xml", sbom: "xml", err: true},
		{name: "--sbom=generator=image", sbom: "generator=docker/scout", err: true},
		{name: "bare --provenance", prov: "true", want: AttestOptions{Provenance: true}},
		{name: "--provenance=mode=max", prov: "mode=max", want: AttestOptions{Provenance: true}},
		{name: "--provenance=false", prov: "false", want: AttestOptions{}},
		{name: "--provenance=mode=all", prov: "mode=all", err: true},
		{name: "--attest both", attest: []string{"type=sbom,format=cyclonedx",
			"type=provenance,mode=min"},
			want: AttestOptions{SBOM: SBOMCycloneDX, Provenance: true}},
		{name: "--attest then --sbom=false", attest: []string{"type=sbom"}, sbom: "false",
			want: AttestOptions{}},
		{name: "--attest unknown type", attest: []string{"type=vex"}, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAttestFlags(tt.sbom, tt.prov, tt.attest)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err == nil && !cmp.Equal(tt.want, got) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestAttestPlatforms builds for two platforms with attestations: the
// index lists both images, then an attestation manifest for each.
func TestAttestPlatforms(t *testing.T) {
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{{path: "status", content: threePackages}})
	opts := Options{ContextDir: ctxDir, Root: t.TempDir(),
		Dockerfile: []byte("FROM scratch\nCOPY status /var/lib/dpkg/status\n"),
		Attest:     AttestOptions{SBOM: SBOMSPDX, Provenance: true}}
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"},
		{OS: "linux", Architecture: "arm64"}}
	res, err := BuildPlatforms(context.Background(), opts, platforms)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(res.Index); err != nil {
		t.Fatalf("validate.Index: %v", err)
	}
	im, err := res.Index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range im.Manifests {
		s := d.Platform.OS + "/" + d.Platform.Architecture
		if registry.IsAttestation(d) {
			s += " for " + platformOf(im, d.Annotations[registry.AnnotationReferenceDigest])
		}
		got = append(got, s)
	}
	want := []string{"linux/amd64", "linux/arm64", "unknown/unknown for linux/amd64",
		"unknown/unknown for linux/arm64"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index entries (-want +got):\n%s", diff)
	}
	for _, d := range im.Manifests[:2] {
		atts, err := registry.IndexAttestations(res.Index, d.Digest)
		if err != nil || len(atts) != 2 {
			t.Errorf("%s has %d attestations, %v", d.Platform, len(atts), err)
		}
	}
}

// platformOf names the platform of the entry with digest d.
func platformOf(im *v1.IndexManifest, d string) string {
	for _, m := range im.Manifests {
		if m.Digest.String() == d && m.Platform != nil {
			return m.Platform.OS + "/" + m.Platform.Architecture
		}
	}
	return "nothing"
}
