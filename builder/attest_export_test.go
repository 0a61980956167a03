package builder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ibuild/ibuild/builder/attest"
	"github.com/ibuild/ibuild/internal/testenv"
	"github.com/ibuild/ibuild/registry"
)

// TestAttestExport exports an attested build everywhere it can go and
// reads the attestations back: from the local store, from an OCI layout,
// and from the registry it was pushed to, by tag and by the image digest
// (the referrers tag scheme of Debian's docker-registry).
func TestAttestExport(t *testing.T) {
	reg := testenv.Registry(t)
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{{path: "status", content: threePackages}})
	root := t.TempDir()
	tag := reg + "/team/app:1"
	res := buildResult(t, root, ctxDir, "FROM scratch\nCOPY status /var/lib/dpkg/status\n",
		func(o *Options) {
			o.Attest = AttestOptions{SBOM: SBOMSPDX, Provenance: true, Names: []string{tag}}
		})
	out := t.TempDir()
	ctx := context.Background()
	digest, err := Export(ctx, res.Image, ExportOptions{Root: root, Tags: []string{tag},
		Push: true, Index: res.Index, Outputs: []Output{
			{Type: "oci", Dest: filepath.Join(out, "layout")},
			{Type: "oci", Dest: filepath.Join(out, "img.tar"), Tar: true},
			{Type: "docker", Dest: filepath.Join(out, "docker.tar")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := res.Index.Digest()
	imgDigest, _ := res.Image.Digest()
	if digest != idxDigest {
		t.Errorf("Export returned %s, want the index %s", digest, idxDigest)
	}

	// The store, by tag and, in a store without the image, by the registry.
	for _, r := range []string{root, t.TempDir()} {
		a, err := ReadAttestations(ctx, r, tag, registry.Options{})
		if err != nil {
			t.Fatal(err)
		}
		checkBoth(t, a, imgDigest)
	}
	st, err := registry.OpenImageStore(root)
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := StoredAttestation(st, tag, AttestSBOM)
	if err != nil {
		t.Fatal(err)
	}
	if pkgs, _ := spdxSummary(t, sbom); len(pkgs) != 3 {
		t.Errorf("stored SBOM lists %v", pkgs)
	}

	// The registry: the index validates, and the image digest finds the
	// attestations through the referrers tag.
	r, _ := name.ParseReference(tag, name.Insecure)
	pushed, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(pushed); err != nil {
		t.Errorf("validate.Index on the pushed index: %v", err)
	}
	byDigest := r.Context().Digest(imgDigest.String()).String()
	d, atts, err := registry.RemoteAttestations(ctx, byDigest, registry.Options{})
	if err != nil || d != imgDigest || len(atts) != 2 {
		t.Errorf("attestations of %s: %s %d %v", byDigest, d, len(atts), err)
	}
	if _, err := remote.Head(r.Context().Tag("sha256-" + imgDigest.Hex)); err != nil {
		t.Errorf("no referrers tag for %s: %v", imgDigest, err)
	}

	checkLayoutOutput(t, filepath.Join(out, "layout"), imgDigest)
	docker, err := tarball.ImageFromPath(filepath.Join(out, "docker.tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// A docker archive keeps the config (the image ID), not the manifest.
	id, _ := res.Image.ConfigName()
	if got, _ := docker.ConfigName(); got != id {
		t.Errorf("the docker archive holds image %s, want %s", got, id)
	}
}

// checkBoth checks that a holds an SPDX SBOM and a provenance about image.
func checkBoth(t *testing.T, a *Attestations, image v1.Hash) {
	t.Helper()
	if a.Image != image {
		t.Errorf("attestations are about %s, want %s", a.Image, image)
	}
	if _, typ, err := a.SBOM(); err != nil || typ != attest.PredicateSPDX {
		t.Errorf("SBOM: %s %v", typ, err)
	}
	if _, _, err := a.Provenance(); err != nil {
		t.Errorf("provenance: %v", err)
	}
}

func checkLayoutOutput(t *testing.T, dir string, image v1.Hash) {
	t.Helper()
	outer, err := layout.Path(dir).ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	om, _ := outer.IndexManifest()
	if len(om.Manifests) != 1 || !om.Manifests[0].MediaType.IsIndex() {
		t.Fatalf("layout index.json: %+v", om.Manifests)
	}
	inner, err := outer.ImageIndex(om.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	atts, err := registry.IndexAttestations(inner, image)
	if err != nil || len(atts) != 2 {
		t.Errorf("layout attestations: %d %v", len(atts), err)
	}
}

// The registry that serves busybox as library/ubuntu, started once.
var (
	ubuntuOnce sync.Once
	ubuntuAddr string
	ubuntuErr  error
)

// TestRethinkdbAttested builds the rethinkdb example (FROM ubuntu, served
// by a mirror that holds busybox under that name) with an SBOM and
// provenance: the stored image carries both, the SBOM parses with
// tools-golang and lists the ADDed script, and the provenance names the
// base image by its digest.
func TestRethinkdbAttested(t *testing.T) {
	ubuntuOnce.Do(func() {
		ubuntuAddr, _, ubuntuErr = testenv.StartRegistry()
		if ubuntuErr == nil {
			testenv.PushBusybox(t, ubuntuAddr, "library/ubuntu:latest")
		}
	})
	testenv.Check(t, ubuntuErr)
	ctxDir, err := filepath.Abs("../examples/rethinkdb")
	if err != nil {
		t.Fatal(err)
	}
	df := readTestFile(t, filepath.Join(ctxDir, "Dockerfile"))
	root := t.TempDir()
	res := buildResult(t, root, ctxDir, df, func(o *Options) {
		o.Registry.Mirrors = []string{ubuntuAddr}
		o.Attest = AttestOptions{SBOM: SBOMSPDX, Provenance: true, Names: []string{"rethinkdb"}}
	})
	ctx := context.Background()
	if _, err := Export(ctx, res.Image, ExportOptions{Root: root, Tags: []string{"rethinkdb"},
		Index: res.Index}); err != nil {
		t.Fatal(err)
	}
	st, err := registry.OpenImageStore(root)
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := StoredAttestation(st, "rethinkdb", AttestSBOM)
	if err != nil {
		t.Fatal(err)
	}
	_, files := spdxSummary(t, sbom)
	script := "/rethinkdb-install.sh " + sha256Hex(readTestFile(t, filepath.Join(ctxDir,
		"rethinkdb-install.sh")))
	if len(files) != 1 || files[0] != script {
		t.Errorf("SBOM files = %v, want [%s]", files, script)
	}
	prov, err := StoredAttestation(st, "rethinkdb", AttestProvenance)
	if err != nil {
		t.Fatal(err)
	}
	base, err := registry.Pull(ctx, ubuntuAddr+"/library/ubuntu:latest", registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bd, _ := base.Digest()
	var p provenance
	if err := json.Unmarshal(prov, &p); err != nil {
		t.Fatal(err)
	}
	var deps []string
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		deps = append(deps, d.URI+" "+d.Digest["sha256"])
	}
	want := []string{"pkg:docker/ubuntu@latest?platform=linux%2Famd64 " + bd.Hex}
	if diff := cmp.Diff(want, deps); diff != "" {
		t.Errorf("resolved dependencies (-want +got):\n%s", diff)
	}
}

func readTestFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
