package attest

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

var (
	testDigest = v1.Hash{Algorithm: "sha256",
		Hex: "d2a5c8f1e0b3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"}
	testImage = Image{Names: []string{"docker.io/library/app:1"}, Digest: testDigest,
		Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}
	testCreation = Creation{Tool: "ibuild", Version: "v0.9.0",
		Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
)

const libc6PURL = "pkg:deb/debian/libc6@2.36-9?arch=amd64&distro=debian-12&upstream=glibc"

// testInventory has one package of each kind, with the awkward values:
// an epoch, a licence that is not an SPDX expression, an added file.
func testInventory() *Inventory {
	return &Inventory{
		Distro: Distro{ID: "debian", VersionID: "12", Name: "Debian GNU/Linux 12 (bookworm)"},
		Packages: []Package{
			{Type: TypeAPK, Name: "musl", Version: "1.2.5-r0", License: "MIT",
				Locations: []string{"/lib/apk/db/installed"},
				PURL:      "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64"},
			{Type: TypeAPK, Name: "odd", Version: "1", License: "custom:Weird licence, see COPYING",
				PURL: "pkg:apk/alpine/odd@1"},
			{Type: TypeDeb, Name: "libc6", Version: "2.36-9", Supplier: "GNU Libc <l@d.org>",
				Homepage: "https://www.gnu.org/software/libc/", Source: "glibc",
				Locations: []string{"/var/lib/dpkg/status"},
				PURL:      libc6PURL},
			{Type: TypeGolang, Name: "example.com/dep", Version: "v1.2.3",
				Locations: []string{"/app/hello"}, PURL: "pkg:golang/example.com/dep@v1.2.3"},
		},
		Files: []File{{Path: "/app/hello", SHA256: "aa", SHA1: "bb", Size: 3,
			CreatedBy: "COPY hello /app/"}},
	}
}

func TestSPDXParses(t *testing.T) {
	b, err := SPDX(testInventory(), testImage, testCreation)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := spdxjson.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("tools-golang cannot read the document: %v\n%s", err, b)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Errorf("tools-golang finds the document invalid: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" ||
		doc.DocumentNamespace != spdxNamespaceBase+"sha256-"+testDigest.Hex ||
		doc.CreationInfo.Created != "2026-01-02T03:04:05Z" ||
		doc.CreationInfo.Creators[0].Creator != "ibuild-v0.9.0" {
		t.Errorf("document header: %+v %+v", doc, doc.CreationInfo)
	}
	var got []string
	for _, p := range doc.Packages {
		s := p.PackageName + "@" + p.PackageVersion + " " + p.PackageLicenseDeclared
		for _, r := range p.PackageExternalReferences {
			s += " " + r.Locator
		}
		got = append(got, s)
	}
	want := []string{
		"docker.io/library/app:1@" + testDigest.String() + " NOASSERTION" +
			" pkg:docker/app@1?platform=linux%2Famd64",
		"debian@12 NOASSERTION",
		"musl@1.2.5-r0 MIT pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64",
		"odd@1 NOASSERTION pkg:apk/alpine/odd@1",
		"libc6@2.36-9 NOASSERTION " + libc6PURL,
		"example.com/dep@v1.2.3 NOASSERTION pkg:golang/example.com/dep@v1.2.3",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if len(doc.Files) != 1 || doc.Files[0].FileName != "/app/hello" ||
		len(doc.Files[0].Checksums) != 2 {
		t.Fatalf("files: %+v", doc.Files)
	}
	// The image contains every package but itself and every file, and the
	// document describes the image.
	if n := len(doc.Relationships); n != 1+5+1 {
		t.Errorf("%d relationships, want 7", n)
	}
	ids, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(ids) != 1 || string(ids[0]) != spdxImageID[len("SPDXRef-"):] {
		t.Errorf("described packages = %v, %v", ids, err)
	}
}

func TestSPDXIDsAreValidAndUnique(t *testing.T) {
	inv := testInventory()
	inv.Packages = append(inv.Packages, Package{Type: TypeGolang, Name: "example.com/dep",
		Version: "v1.2.4", PURL: "pkg:golang/example.com/dep@v1.2.4"})
	b, err := SPDX(inv, Image{Digest: testDigest}, testCreation)
	if err != nil {
		t.Fatal(err)
	}
	var doc spdxDocument
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	valid := regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)
	seen := map[string]bool{}
	for _, p := range doc.Packages {
		if !valid.MatchString(p.SPDXID) || seen[p.SPDXID] {
			t.Errorf("package ID %q is invalid or repeated", p.SPDXID)
		}
		seen[p.SPDXID] = true
	}
	if doc.Name != testDigest.String() {
		t.Errorf("an image without a name is named %q, want its digest", doc.Name)
	}
}

func TestCycloneDX(t *testing.T) {
	b, err := CycloneDX(testInventory(), testImage, testCreation)
	if err != nil {
		t.Fatal(err)
	}
	var bom cdxBOM
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&bom); err != nil {
		t.Fatal(err)
	}
	serial := regexp.MustCompile(
		`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if bom.BOMFormat != "CycloneDX" || bom.SpecVersion != "1.5" ||
		!serial.MatchString(bom.SerialNumber) || bom.Metadata.Component.Type != "container" ||
		bom.Metadata.Timestamp != "2026-01-02T03:04:05Z" {
		t.Errorf("BOM header: %+v", bom)
	}
	var got []string
	refs := map[string]bool{}
	for _, c := range bom.Components {
		got = append(got, c.Type+" "+c.Name+" "+c.PURL)
		refs[c.BOMRef] = true
	}
	want := []string{
		"operating-system debian ",
		"library musl pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64",
		"library odd pkg:apk/alpine/odd@1",
		"library libc6 " + libc6PURL,
		"library example.com/dep pkg:golang/example.com/dep@v1.2.3",
		"file /app/hello ",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("components (-want +got):\n%s", diff)
	}
	if len(refs) != len(bom.Components) {
		t.Errorf("bom-refs are not unique: %v", refs)
	}
	if l := bom.Components[2].Licenses; len(l) != 1 || l[0].License == nil {
		t.Errorf("a licence that is no SPDX expression goes in license.name: %+v", l)
	}
	if d := bom.Dependencies; len(d) != 1 || len(d[0].DependsOn) != len(bom.Components) {
		t.Errorf("dependencies: %+v", d)
	}
	again, _ := CycloneDX(testInventory(), testImage, testCreation)
	if !bytes.Equal(b, again) {
		t.Error("the same inventory gave two different BOMs")
	}
}

func TestProvenance(t *testing.T) {
	dep := v1.Hash{Algorithm: "sha256", Hex: testDigest.Hex[:60] + "beef"}
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	b := Build{
		DockerfileName: "Dockerfile", DockerfileDigest: testDigest, ContextDigest: dep,
		Target: "final", Platform: amd64,
		Args:      map[string]string{"VERSION": "1.2"},
		Omitted:   map[string]string{"API_TOKEN": "its name looks like a secret"},
		SecretIDs: []string{"npmrc"},
		Images: []Dependency{
			{Ref: "docker.io/library/busybox:latest", Digest: dep, Platform: amd64},
			{Ref: "docker.io/library/alpine:3", Digest: testDigest, Platform: amd64},
			{Ref: "docker.io/library/busybox:latest", Digest: dep, Platform: amd64},
		},
		Version: "v0.9.0", InvocationID: "id-1",
		Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Finished: time.Date(2026, 1, 2, 3, 4, 9, 500, time.UTC),
	}
	got, err := Provenance(b)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"buildDefinition":{"buildType":"` + BuildType + `",` +
		`"externalParameters":{"configSource":{"path":"Dockerfile","digest":{"sha256":"` +
		testDigest.Hex + `"}},"context":{"name":"context","digest":{"sha256":"` + dep.Hex +
		`"}},"request":{"target":"final","platform":"linux/amd64","args":{"VERSION":"1.2"},` +
		`"omittedArgs":{"API_TOKEN":"its name looks like a secret"},"secrets":["npmrc"]}},` +
		`"resolvedDependencies":[` +
		`{"uri":"pkg:docker/alpine@3?platform=linux%2Famd64","digest":{"sha256":"` +
		testDigest.Hex + `"}},` +
		`{"uri":"pkg:docker/busybox@latest?platform=linux%2Famd64","digest":{"sha256":"` +
		dep.Hex + `"}}]},` +
		`"runDetails":{"builder":{"id":"https://github.com/ibuild/ibuild@v0.9.0",` +
		`"version":{"ibuild":"v0.9.0"}},"metadata":{"invocationId":"id-1",` +
		`"startedOn":"2026-01-02T03:04:05Z","finishedOn":"2026-01-02T03:04:09.0000005Z"}}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("provenance (-want +got):\n%s", diff)
	}
}

func TestSecretLike(t *testing.T) {
	var got []string
	for _, n := range []string{"GITHUB_TOKEN", "db_password", "DB_PASSWD", "SECRET",
		"SSH_KEY", "AWS_ACCESS_KEY_ID", "PASSPHRASE", "CREDENTIALS", "VERSION", "HTTP_PROXY",
		"BASE_IMAGE"} {
		if SecretLike(n) {
			got = append(got, n)
		}
	}
	sort.Strings(got)
	want := []string{"AWS_ACCESS_KEY_ID", "CREDENTIALS", "DB_PASSWD", "GITHUB_TOKEN",
		"PASSPHRASE", "SECRET", "SSH_KEY", "db_password"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestStatement(t *testing.T) {
	tests := []struct {
		name  string
		img   Image
		names []string
	}{
		{"named", testImage, []string{"pkg:docker/app@1?platform=linux%2Famd64"}},
		{"unnamed", Image{Digest: testDigest}, []string{"_"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewStatement(tt.img, PredicateProvenance, []byte(`{"a":1}`))
			if err != nil {
				t.Fatal(err)
			}
			st, err := ParseStatement(b)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range st.Subject {
				names = append(names, s.Name)
				if s.Digest["sha256"] != testDigest.Hex {
					t.Errorf("subject digest = %v", s.Digest)
				}
			}
			if diff := cmp.Diff(tt.names, names); diff != "" {
				t.Errorf("subjects (-want +got):\n%s", diff)
			}
			if st.Type != StatementType || st.PredicateType != PredicateProvenance ||
				string(st.Predicate) != `{"a":1}` {
				t.Errorf("statement: %+v", st)
			}
		})
	}
}
