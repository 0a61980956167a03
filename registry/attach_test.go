package registry

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ibuild/ibuild/internal/testenv"
)

var testAttestations = []Attestation{
	{PredicateType: "https://spdx.dev/Document", Statement: []byte(`{"predicate":"sbom"}`)},
	{PredicateType: "https://slsa.dev/provenance/v1", Statement: []byte(`{"predicate":"slsa"}`)},
}

// attachedIndex is an amd64 OCI test image with testAttestations attached.
func attachedIndex(t *testing.T) (v1.ImageIndex, v1.Image) {
	t.Helper()
	return attachedIndexOf(t, types.OCIManifestSchema1, types.OCIConfigJSON)
}

// attachedIndexOf is attachedIndex for an image of the given media types.
func attachedIndexOf(t *testing.T, mt, ct types.MediaType) (v1.ImageIndex, v1.Image) {
	t.Helper()
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, mt), ct)
	cf, _ := img.ConfigFile()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	idx, err := Attach(img, linux("amd64", ""), testAttestations)
	if err != nil {
		t.Fatal(err)
	}
	return idx, img
}

// TestAttachLayout checks the index and attestation manifest against what
// BuildKit writes.
func TestAttachLayout(t *testing.T) {
	idx, img := attachedIndex(t)
	if err := validate.Index(idx); err != nil {
		t.Fatalf("validate.Index: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	imgDigest := mustDigest(t, img)
	if len(im.Manifests) != 2 || im.MediaType != types.OCIImageIndex {
		t.Fatalf("index: %+v", im)
	}
	if d := im.Manifests[0]; d.Digest != imgDigest || d.Platform == nil ||
		d.Platform.Architecture != "amd64" || IsAttestation(d) {
		t.Errorf("first entry is not the image: %+v", d)
	}
	ad := im.Manifests[1]
	wantAnn := map[string]string{AnnotationReferenceType: "attestation-manifest",
		AnnotationReferenceDigest: imgDigest.String()}
	if diff := cmp.Diff(wantAnn, ad.Annotations); diff != "" {
		t.Errorf("attestation entry annotations (-want +got):\n%s", diff)
	}
	if ad.Platform == nil || ad.Platform.OS != "unknown" || ad.Platform.Architecture != "unknown" ||
		ad.MediaType != types.OCIManifestSchema1 {
		t.Errorf("attestation entry: %+v", ad)
	}
	am, err := idx.Image(ad.Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := am.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject == nil || m.Subject.Digest != imgDigest ||
		m.ArtifactType != ArtifactTypeAttestation {
		t.Errorf("attestation manifest subject %+v, artifactType %q", m.Subject, m.ArtifactType)
	}
	var got []string
	for _, l := range m.Layers {
		got = append(got, string(l.MediaType)+" "+l.Annotations[AnnotationPredicateType])
	}
	want := []string{"application/vnd.in-toto+json https://spdx.dev/Document",
		"application/vnd.in-toto+json https://slsa.dev/provenance/v1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attestation layers (-want +got):\n%s", diff)
	}
	cfg, err := am.RawConfigFile()
	if err != nil || string(cfg) != "{}" || m.Config.MediaType != types.OCIEmptyJSON ||
		string(m.Config.Data) != "{}" {
		t.Errorf("attestation config %s %+v, %v; want the empty JSON", cfg, m.Config, err)
	}
	back, err := IndexAttestations(idx, imgDigest)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(testAttestations, back); diff != "" {
		t.Errorf("attestations read back (-want +got):\n%s", diff)
	}
}

// TestAttachStoreAndLayout keeps an attested image in the local store and
// in an OCI layout output, and reads the attestations back from both.
func TestAttachStoreAndLayout(t *testing.T) {
	idx, img := attachedIndex(t)
	ctx := context.Background()
	s, err := OpenImageStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveIndex(ctx, idx, []string{"app:1"}); err != nil {
		t.Fatal(err)
	}
	stored, err := s.Image("app:1")
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, stored) != mustDigest(t, img) {
		t.Errorf("the store resolves app:1 to %s, not the image", mustDigest(t, stored))
	}
	// Prune keeps the blobs of the attestation manifest: the index
	// reaches them.
	if _, err := s.Prune(ctx, nil); err != nil {
		t.Fatal(err)
	}
	d, atts, err := s.Attestations("app:1")
	if err != nil {
		t.Fatal(err)
	}
	if d != mustDigest(t, img) || !cmp.Equal(testAttestations, atts) {
		t.Errorf("store attestations of %s: %v", d, atts)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Tags[0] != "docker.io/library/app:1" {
		t.Errorf("List = %+v, %v", list, err)
	}

	dir := filepath.Join(t.TempDir(), "out")
	if err := WriteOCILayout(ctx, dir, idx, []string{"app:1"}); err != nil {
		t.Fatal(err)
	}
	outer, err := layout.Path(dir).ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	om, _ := outer.IndexManifest()
	if len(om.Manifests) != 1 || !om.Manifests[0].MediaType.IsIndex() {
		t.Fatalf("layout index.json: %+v", om)
	}
	inner, err := outer.ImageIndex(om.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(inner); err != nil {
		t.Errorf("validate.Index on the layout: %v", err)
	}
	got, err := IndexAttestations(inner, mustDigest(t, img))
	if err != nil || !cmp.Equal(testAttestations, got) {
		t.Errorf("layout attestations: %v, %v", got, err)
	}
}

// TestAttachPushFoundByDigest pushes an attested image and finds its
// attestations by the image's digest, through the referrers API where the
// registry has one and through the referrers tag (sha256-HEX) where it
// does not (Debian's docker-registry 2.8).
func TestAttachPushFoundByDigest(t *testing.T) {
	withAPI := httptest.NewServer(ggcrregistry.New(ggcrregistry.WithReferrersSupport(true),
		ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(withAPI.Close)
	registries := []struct {
		name, addr string
		fallback   bool
	}{
		{"referrers API", strings.TrimPrefix(withAPI.URL, "http://"), false},
		{"docker-registry, tag fallback", testenv.Registry(t), true},
	}
	for _, r := range registries {
		t.Run(r.name, func(t *testing.T) {
			checkPushedAttestations(t, r.addr, r.fallback)
		})
	}
}

func checkPushedAttestations(t *testing.T, reg string, fallback bool) {
	idx, img := attachedIndex(t)
	ctx := context.Background()
	ref := reg + "/attest/app:1"
	if _, err := PushIndex(ctx, idx, ref, testOptions()); err != nil {
		t.Fatal(err)
	}
	imgDigest := mustDigest(t, img)
	tag, _ := name.ParseReference(ref, name.Insecure)
	back, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(back); err != nil {
		t.Errorf("validate.Index on the pushed index: %v", err)
	}

	byDigest := tag.Context().Digest(imgDigest.String())
	refs, err := remote.Referrers(byDigest)
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := refs.IndexManifest()
	im, _ := idx.IndexManifest()
	if len(rm.Manifests) != 1 || rm.Manifests[0].Digest != im.Manifests[1].Digest {
		t.Fatalf("referrers of %s: %+v", imgDigest, rm.Manifests)
	}
	// go-containerregistry's registry lists the config media type where
	// the spec asks for the manifest's artifact type.
	if at := rm.Manifests[0].ArtifactType; fallback && at != ArtifactTypeAttestation {
		t.Errorf("referrers tag lists artifact type %q", at)
	}
	fallbackTag := tag.Context().Tag("sha256-" + imgDigest.Hex)
	if _, err := remote.Head(fallbackTag); (err == nil) != fallback {
		t.Errorf("referrers tag %s exists: %v, want %v", fallbackTag, err == nil, fallback)
	}

	for _, ref := range []string{ref, byDigest.String()} {
		d, atts, err := RemoteAttestations(ctx, ref, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		if d != imgDigest || !cmp.Equal(testAttestations, atts) {
			t.Errorf("attestations of %s: image %s, %v", ref, d, atts)
		}
	}
}

// TestAttachDocker attaches to an image with Docker media types: the index
// is a Docker manifest list and the attestation manifest a Docker one,
// without the OCI subject a Docker manifest cannot hold.
func TestAttachDocker(t *testing.T) {
	idx, img := attachedIndexOf(t, types.DockerManifestSchema2, types.DockerConfigJSON)
	if err := validate.Index(idx); err != nil {
		t.Fatalf("validate.Index: %v", err)
	}
	im, _ := idx.IndexManifest()
	if im.MediaType != types.DockerManifestList || len(im.Manifests) != 2 {
		t.Fatalf("index: %+v", im)
	}
	am, err := idx.Image(im.Manifests[1].Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := am.Manifest()
	if m.MediaType != types.DockerManifestSchema2 || m.Subject != nil || m.ArtifactType != "" ||
		m.Config.MediaType != types.DockerConfigJSON {
		t.Errorf("attestation manifest: %+v", m)
	}
	cf, err := am.ConfigFile()
	if err != nil || cf.OS != "unknown" || cf.Architecture != "unknown" {
		t.Errorf("attestation config %+v, %v", cf, err)
	}
	got, err := IndexAttestations(idx, mustDigest(t, img))
	if err != nil || !cmp.Equal(testAttestations, got) {
		t.Errorf("attestations: %v, %v", got, err)
	}
}

// TestAttachForeignPlatformInStore keeps an attested image built for
// another platform than the host's: the store still lists it and finds its
// attestations.
func TestAttachForeignPlatformInStore(t *testing.T) {
	img := testImage(t, linux("s390x", ""), map[string]string{"a": "1"})
	idx, err := Attach(img, linux("s390x", ""), testAttestations)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenImageStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SaveIndex(context.Background(), idx, []string{"far:1"}); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].ID != mustConfigName(t, img) {
		t.Errorf("List = %+v, %v", list, err)
	}
	d, atts, err := s.Attestations("far:1")
	if err != nil || d != mustDigest(t, img) || len(atts) != 2 {
		t.Errorf("attestations of far:1: %s %d %v", d, len(atts), err)
	}
}
