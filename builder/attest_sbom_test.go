package builder

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"

	"github.com/ibuild/ibuild/builder/attest"
	"github.com/ibuild/ibuild/registry"
)

// buildResult builds dockerfile with the context at ctxDir into the store
// at root and returns the whole result.
func buildResult(t *testing.T, root, ctxDir, dockerfile string, tweak func(*Options)) *Result {
	t.Helper()
	opts := Options{ContextDir: ctxDir, Dockerfile: []byte(dockerfile),
		DockerfilePath: filepath.Join(ctxDir, "Dockerfile"), Root: root}
	if tweak != nil {
		tweak(&opts)
	}
	// The context outlives the build: layers of pulled base images are
	// read later, when the result is exported.
	res, err := Build(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// statements returns the in-toto statements res carries, by predicate
// type, after checking the index they come in.
func statements(t *testing.T, res *Result) map[string]*attest.Statement {
	t.Helper()
	if res.Index == nil {
		t.Fatal("the build has no index with attestations")
	}
	if err := validate.Index(res.Index); err != nil {
		t.Fatalf("validate.Index: %v", err)
	}
	d, err := res.Image.Digest()
	if err != nil {
		t.Fatal(err)
	}
	atts, err := registry.IndexAttestations(res.Index, d)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*attest.Statement{}
	for _, a := range atts {
		st, err := attest.ParseStatement(a.Statement)
		if err != nil {
			t.Fatal(err)
		}
		if st.PredicateType != a.PredicateType || st.Subject[0].Digest["sha256"] != d.Hex {
			t.Errorf("statement %s is about %v, layer says %s", st.PredicateType, st.Subject,
				a.PredicateType)
		}
		out[st.PredicateType] = st
	}
	return out
}

// spdxSummary parses an SPDX document with tools-golang and lists its
// packages (name@version purl) and files (path sha256).
func spdxSummary(t *testing.T, doc []byte) (pkgs, files []string) {
	t.Helper()
	d, err := spdxjson.Read(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("tools-golang cannot read the SBOM: %v", err)
	}
	if err := spdxlib.ValidateDocument(d); err != nil {
		t.Errorf("tools-golang finds the SBOM invalid: %v", err)
	}
	for _, p := range d.Packages[1:] { // [0] is the image itself
		s := p.PackageName + "@" + p.PackageVersion
		for _, r := range p.PackageExternalReferences {
			s += " " + r.Locator
		}
		pkgs = append(pkgs, s)
	}
	for _, f := range d.Files {
		files = append(files, f.FileName+" "+f.Checksums[1].Value)
	}
	return pkgs, files
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

const threePackages = `Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
Maintainer: Santiago Vila <sanvila@debian.org>

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u7

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1
`

// TestSBOMDebianImage builds a Debian-like image from a dpkg status file of
// three installed packages: the SBOM lists exactly those, and the files the
// COPY steps added with their digests.
func TestSBOMDebianImage(t *testing.T) {
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{
		{path: "status", content: threePackages},
		{path: "app/run.sh", content: "#!/bin/sh\necho hi\n", mode: 0o755},
		{path: "app/README", content: "readme"},
	})
	df := "FROM scratch\nCOPY status /var/lib/dpkg/status\nCOPY app /app/\n" +
		"LABEL x=y\n"
	res := buildResult(t, t.TempDir(), ctxDir, df, func(o *Options) {
		o.Attest = AttestOptions{SBOM: SBOMSPDX, Names: []string{"deb:1"}, Version: "v1.0"}
	})
	st := statements(t, res)[attest.PredicateSPDX]
	if st == nil {
		t.Fatal("no SPDX statement")
	}
	pkgs, files := spdxSummary(t, st.Predicate)
	wantPkgs := []string{
		"base-files@12.4+deb12u5 pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64",
		"libc6@2.36-9+deb12u7 pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&upstream=glibc",
		"tzdata@2024a-0+deb12u1 pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all",
	}
	if diff := cmp.Diff(wantPkgs, pkgs); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	wantFiles := []string{
		"/app/README " + sha256Hex("readme"),
		"/app/run.sh " + sha256Hex("#!/bin/sh\necho hi\n"),
		"/var/lib/dpkg/status " + sha256Hex(threePackages),
	}
	if diff := cmp.Diff(wantFiles, files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if st.Subject[0].Name != "pkg:docker/deb@1?platform=linux%2Famd64" {
		t.Errorf("subject = %+v", st.Subject)
	}
}

const alpineDB = `P:musl
V:1.2.5-r0
A:x86_64
L:MIT
o:musl

P:busybox-binsh
V:1.36.1-r29
A:x86_64
L:GPL-2.0-only
o:busybox
`

// TestSBOMAlpineImageCycloneDX reads an apk database, in CycloneDX.
func TestSBOMAlpineImageCycloneDX(t *testing.T) {
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{
		{path: "installed", content: alpineDB},
		{path: "os-release", content: "ID=alpine\nVERSION_ID=3.20.3\n"},
	})
	df := "FROM scratch\nCOPY installed /lib/apk/db/installed\nCOPY os-release /etc/\n"
	res := buildResult(t, t.TempDir(), ctxDir, df, func(o *Options) {
		o.Attest = AttestOptions{SBOM: SBOMCycloneDX}
	})
	st := statements(t, res)[attest.PredicateCycloneDX]
	if st == nil {
		t.Fatal("no CycloneDX statement")
	}
	var bom struct {
		SpecVersion string
		Components  []struct{ Type, Name, PURL string }
	}
	if err := json.Unmarshal(st.Predicate, &bom); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range bom.Components {
		got = append(got, c.Type+" "+c.Name+" "+c.PURL)
	}
	want := []string{
		"operating-system alpine ",
		"library busybox-binsh pkg:apk/alpine/busybox-binsh@1.36.1-r29" +
			"?arch=x86_64&distro=alpine-3.20.3&upstream=busybox",
		"library musl pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3",
		"file /etc/os-release ",
		"file /lib/apk/db/installed ",
	}
	if diff := cmp.Diff(want, got); diff != "" || bom.SpecVersion != "1.5" {
		t.Errorf("spec %s, components (-want +got):\n%s", bom.SpecVersion, diff)
	}
}

// TestSBOMGoBinary builds a small Go program that requires a module
// (replaced by a local copy, so no network is needed) and copies it into
// the image: the SBOM lists its module, the dependency and the standard
// library.
func TestSBOMGoBinary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to build the test program: %v", err)
	}
	src := t.TempDir()
	writeContext(t, src, []ctxFile{
		{path: "go.mod", content: "module example.com/hello\n\ngo 1.22\n\n" +
			"require example.com/greet v1.4.2\n\nreplace example.com/greet => ./greet\n"},
		{path: "main.go", content: "package main\n\nimport \"example.com/greet\"\n\n" +
			"func main() { println(greet.Hello()) }\n"},
		{path: "greet/go.mod", content: "module example.com/greet\n\ngo 1.22\n"},
		{path: "greet/greet.go",
			content: "package greet\n\nfunc Hello() string { return \"hi\" }\n"},
	})
	ctxDir := t.TempDir()
	cmd := exec.Command(goTool, "build", "-o", filepath.Join(ctxDir, "hello"), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod -buildvcs=false",
		"GOPROXY=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	df := "FROM scratch\nCOPY hello /usr/local/bin/hello\n"
	res := buildResult(t, t.TempDir(), ctxDir, df, func(o *Options) {
		o.Attest = AttestOptions{SBOM: SBOMSPDX}
	})
	pkgs, files := spdxSummary(t, statements(t, res)[attest.PredicateSPDX].Predicate)
	goVersion := goToolVersion(t, goTool)
	want := []string{
		"example.com/greet@v1.4.2 pkg:golang/example.com/greet@v1.4.2",
		"example.com/hello@ pkg:golang/example.com/hello",
		"stdlib@" + goVersion + " pkg:golang/stdlib@" + goVersion,
	}
	if diff := cmp.Diff(want, pkgs); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	if len(files) != 1 || !strings.HasPrefix(files[0], "/usr/local/bin/hello ") {
		t.Errorf("files = %v", files)
	}
}

// goToolVersion is the version of the go command, "1.26.8".
func goToolVersion(t *testing.T, goTool string) string {
	t.Helper()
	out, err := exec.Command(goTool, "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	v, _, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	return strings.TrimPrefix(v, "go")
}

// TestSBOMCachedBuild builds the same image twice in one store: the second
// build takes every step from the cache, and its SBOM still lists the
// copied files, which it reads from the image, not from the COPY steps.
// With SOURCE_DATE_EPOCH the two SBOMs are the same bytes.
func TestSBOMCachedBuild(t *testing.T) {
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{{path: "status", content: threePackages},
		{path: "a", content: "a"}})
	root := t.TempDir()
	df := "FROM scratch\nCOPY status /var/lib/dpkg/status\nCOPY a /\n"
	var docs [2][]string
	var raw [2][]byte
	var cached [2]int
	epoch := time.Unix(1700000000, 0).UTC()
	for i := range docs {
		var mu sync.Mutex
		res := buildResult(t, root, ctxDir, df, func(o *Options) {
			o.Attest = AttestOptions{SBOM: SBOMSPDX}
			o.Epoch = &epoch
			o.Progress = func(e Event) {
				mu.Lock()
				defer mu.Unlock()
				if e.Kind == StepDone && e.Cached {
					cached[i]++
				}
			}
		})
		raw[i] = statements(t, res)[attest.PredicateSPDX].Predicate
		pkgs, files := spdxSummary(t, raw[i])
		docs[i] = append(pkgs, files...)
	}
	if !bytes.Equal(raw[0], raw[1]) {
		t.Errorf("two builds with the same epoch gave different SBOMs:\n%s\n%s", raw[0], raw[1])
	}
	if cached[1] != cached[0]+2 {
		t.Errorf("the builds took %v steps from the cache; the second should take both COPY",
			cached)
	}
	if len(docs[0]) != 5 || !cmp.Equal(docs[0], docs[1]) {
		t.Errorf("SBOMs of a fresh and a cached build:\n%v\n%v", docs[0], docs[1])
	}
}
