package builder

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ibuild/ibuild/builder/attest"
	"github.com/ibuild/ibuild/registry"
)

// attestations makes the attestations opts.Attest asks for and, when there
// are any, sets res.Index to an index of the image and its attestation
// manifest, the layout BuildKit pushes and exports.
func (b *build) attestations(ctx context.Context, res *Result, started time.Time) error {
	a := b.opts.Attest
	if !a.any() {
		return nil
	}
	cf, err := res.Image.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading the image config: %w", err)
	}
	subject, err := b.attestSubject(res.Image, cf)
	if err != nil {
		return err
	}
	var atts []registry.Attestation
	if a.SBOM != "" {
		stmt, warnings, err := b.sbomStatement(ctx, res.Image, cf, subject)
		if err != nil {
			return fmt.Errorf("making the SBOM: %w", err)
		}
		res.Warnings = append(res.Warnings, warnings...)
		atts = append(atts, stmt)
	}
	if a.Provenance {
		stmt, err := b.provenanceStatement(ctx, subject, started)
		if err != nil {
			return fmt.Errorf("making the provenance: %w", err)
		}
		atts = append(atts, stmt)
	}
	idx, err := registry.Attach(res.Image, subject.Platform, atts)
	if err != nil {
		return fmt.Errorf("attaching attestations: %w", err)
	}
	res.Index = idx
	return nil
}

// attestSubject names the image the statements are about.
func (b *build) attestSubject(img v1.Image, cf *v1.ConfigFile) (attest.Image, error) {
	d, err := img.Digest()
	if err != nil {
		return attest.Image{}, fmt.Errorf("computing the image digest: %w", err)
	}
	s := attest.Image{Digest: d, Platform: v1.Platform{OS: cf.OS, Architecture: cf.Architecture,
		Variant: cf.Variant}}
	for _, n := range b.opts.Attest.Names {
		full, err := registry.NormalizeTag(n)
		if err != nil {
			return attest.Image{}, err
		}
		if !slices.Contains(s.Names, full) {
			s.Names = append(s.Names, full)
		}
	}
	return s, nil
}

// sbomStatement scans the image and writes its SBOM statement.
func (b *build) sbomStatement(ctx context.Context, img v1.Image, cf *v1.ConfigFile,
	subject attest.Image) (registry.Attestation, []string, error) {
	ls, err := b.scanLayers(img, cf)
	if err != nil {
		return registry.Attestation{}, nil, err
	}
	inv, err := attest.Scan(ctx, ls)
	if err != nil {
		return registry.Attestation{}, nil, err
	}
	c := attest.Creation{Tool: "ibuild", Version: b.opts.Attest.version(), Time: time.Now()}
	if b.opts.Epoch != nil {
		c.Time = *b.opts.Epoch
	}
	doc, ptype := []byte(nil), attest.PredicateSPDX
	if b.opts.Attest.SBOM == SBOMCycloneDX {
		doc, err = attest.CycloneDX(inv, subject, c)
		ptype = attest.PredicateCycloneDX
	} else {
		doc, err = attest.SPDX(inv, subject, c)
	}
	if err != nil {
		return registry.Attestation{}, nil, err
	}
	stmt, err := attest.NewStatement(subject, ptype, doc)
	var warnings []string
	for _, w := range inv.Warnings {
		warnings = append(warnings, "SBOM: "+w)
	}
	return registry.Attestation{PredicateType: ptype, Statement: stmt}, warnings, err
}

// scanLayers lists the image's layers for attest.Scan, marking those a
// COPY or ADD of this build wrote: layers above the external base image
// whose history entry is a COPY or an ADD.
func (b *build) scanLayers(img v1.Image, cf *v1.ConfigFile) ([]attest.Layer, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	var createdBy []string
	for _, h := range cf.History {
		if !h.EmptyLayer {
			createdBy = append(createdBy, h.CreatedBy)
		}
	}
	base := b.targetBaseLayers()
	out := make([]attest.Layer, len(ls))
	for i, l := range ls {
		out[i].Open = l.Uncompressed
		// History and layers are matched from the top: a base image's
		// history may lack entries, this build's never does.
		if j := i + len(createdBy) - len(ls); j >= 0 && j < len(createdBy) {
			out[i].CreatedBy = createdBy[j]
		}
		// TODO: a squashed layer mixes RUN output with copied files, so its
		// files are not listed.
		out[i].Added = i >= base && b.opts.Squash == "" && isCopyHistory(out[i].CreatedBy)
	}
	return out, nil
}

// targetBaseLayers counts the target stage's layers that came from an
// external base image; all layers when that is not known.
func (b *build) targetBaseLayers() int {
	t, err := b.target()
	if err != nil || t.result == nil {
		return 1 << 30
	}
	return t.result.baseLayers
}

func isCopyHistory(s string) bool {
	return strings.HasPrefix(s, "COPY ") || strings.HasPrefix(s, "ADD ")
}

// provenanceStatement writes the SLSA provenance statement of the build.
func (b *build) provenanceStatement(ctx context.Context, subject attest.Image,
	started time.Time) (registry.Attestation, error) {
	o := b.opts
	ctxDigest, err := b.contextDigest(ctx)
	if err != nil {
		return registry.Attestation{}, err
	}
	sum := sha256.Sum256(o.Dockerfile)
	pb := attest.Build{
		DockerfileName:   o.DockerfileName,
		DockerfileDigest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])},
		ContextDigest:    ctxDigest, Target: o.Target, Platform: *o.Platform,
		Images: b.attest.dependencies(), Version: o.Attest.version(),
		InvocationID: invocationID(), Started: started, Finished: time.Now(),
	}
	pb.Args, pb.Omitted = provenanceArgs(o.BuildArgs, secretValues(o.Secrets))
	for id := range o.Secrets {
		pb.SecretIDs = append(pb.SecretIDs, id)
	}
	slices.Sort(pb.SecretIDs)
	pred, err := attest.Provenance(pb)
	if err != nil {
		return registry.Attestation{}, err
	}
	stmt, err := attest.NewStatement(subject, attest.PredicateProvenance, pred)
	return registry.Attestation{PredicateType: attest.PredicateProvenance, Statement: stmt}, err
}

// provenanceArgs splits the build arguments into those the provenance
// states and those it leaves out, with the reason: a name that looks like
// a secret's, or a value that holds a build secret.
func provenanceArgs(args map[string]string, secrets []string) (kept, omitted map[string]string) {
	for k, v := range args {
		reason := ""
		switch {
		case attest.SecretLike(k):
			reason = "omitted: the name looks like a secret's"
		case holdsSecret(v, secrets):
			reason = "omitted: the value holds a build secret"
		}
		if reason == "" {
			kept = setKey(kept, k, v)
		} else {
			omitted = setKey(omitted, k, reason)
		}
	}
	return kept, omitted
}

func setKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}

// holdsSecret reports whether v is, or for a secret of some length
// contains, one of the secrets' values.
func holdsSecret(v string, secrets []string) bool {
	for _, s := range secrets {
		if v == s || len(s) >= 6 && strings.Contains(v, s) {
			return true
		}
	}
	return false
}

// secretValues reads the values of the build secrets (small files and
// environment variables), only to keep them out of the provenance.
func secretValues(secrets map[string]Secret) []string {
	var out []string
	for _, s := range secrets {
		v := ""
		if s.Env != "" {
			v = os.Getenv(s.Env)
		} else if s.File != "" {
			if fi, err := os.Stat(s.File); err == nil && fi.Size() <= 1<<20 {
				b, _ := os.ReadFile(s.File)
				v = strings.TrimSpace(string(b))
			}
		}
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// invocationID is a random UUID (version 4) naming one build.
func invocationID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
