package compat

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ibuild/ibuild/internal/testenv"
)

// casesDir holds the differential cases, one directory each.
const casesDir = "../testdata/compat"

// minCases is how many cases the suite must have at least.
const minCases = 40

// baseNames are the names the base image is pushed under: the busybox test
// image with the empty /dev, /proc and /sys every real base image has.
// Besides busybox they are stand-ins, so that the cases read like the
// projects they come from (FROM golang:1.22-alpine AS build); the image is
// busybox whatever its name.
var baseNames = []string{
	"library/busybox:latest", "library/busybox:1.36", "library/alpine:3.20",
	"library/golang:1.22-alpine", "library/node:20-alpine", "library/debian:bookworm-slim",
}

// bareName is the busybox test image as it is, without /dev, /proc and
// /sys, like an image built FROM scratch.
const bareName = "library/busybox:bare"

// binaryEnv names a prebuilt ibuild to check instead of building
// ./cmd/ibuild, for example a release binary.
const binaryEnv = "IBUILD_COMPAT_BINARY"

// buildkitEnv names a directory with BuildKit's image of each case as an
// OCI layout in DIR/CASE/oci. When set, the suite also checks that
// buildah's result with the case's known differences is BuildKit's, which
// is how the expectations were checked when they were written.
const buildkitEnv = "IBUILD_COMPAT_BUILDKIT"

// httpArg is replaced in a case's build args by the URL of its served/
// directory on the suite's loopback file server.
const httpArg = "{{HTTP}}"

// suite is what every case of TestCompat shares.
type suite struct {
	reg     string
	buildah *buildah
	ib      ibuild
	files   *httptest.Server
}

// TestCompat builds every case of testdata/compat with buildah bud and with
// ibuild, as root and as an unprivileged user, and checks that ibuild's
// image is Docker's: buildah's result with the case's known differences
// applied.
func TestCompat(t *testing.T) {
	dir, err := filepath.Abs(casesDir)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := LoadCases(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < minCases {
		t.Errorf("%d cases in %s, want at least %d", len(cases), casesDir, minCases)
	}
	s := newSuite(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			s.check(t, c)
		})
	}
}

// newSuite starts the registry and the file server and pushes the base
// images.
func newSuite(t *testing.T) *suite {
	t.Helper()
	reg := testenv.Registry(t)
	s := &suite{reg: reg, buildah: newBuildah(t, reg)}
	pushBases(t, reg)
	bin := os.Getenv(binaryEnv)
	if bin == "" {
		bin = testenv.Binary(t)
	}
	s.ib = ibuild{bin: bin, reg: reg}
	s.files = httptest.NewServer(http.FileServer(http.Dir(casesDir)))
	t.Cleanup(s.files.Close)
	return s
}

// pushBases pushes the base images the cases use to reg.
func pushBases(t *testing.T, reg string) {
	t.Helper()
	testenv.PushBusybox(t, reg, bareName)
	img, err := withMountPoints(testenv.BusyboxImage(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range baseNames {
		ref, err := name.ParseReference(reg+"/"+n, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
			t.Fatalf("pushing %s: %v", ref, err)
		}
	}
}

// check builds case c with both builders and compares the results.
func (s *suite) check(t *testing.T, c Case) {
	args := s.buildArgs(c)
	refTree, refCfg := s.reference(t, c, args)
	wantTree, wantCfg, err := c.Reference(refTree, refCfg)
	if err != nil {
		t.Fatal(err)
	}

	if dir := os.Getenv(buildkitEnv); dir != "" {
		bk := layoutImage(t, filepath.Join(dir, c.Name, "oci"))
		compareImage(t, "BuildKit", "the reference (buildah with its known differences)",
			bk, wantTree, wantCfg)
	}
	t.Run("root", func(t *testing.T) {
		img := s.ib.build(t, c, args, t.TempDir())
		compareImage(t, "ibuild", "Docker's (the reference)", img, wantTree, wantCfg)
	})
	t.Run("rootless", func(t *testing.T) {
		ib := s.ib
		ib.user = testenv.Unprivileged(t)
		img := ib.build(t, c, args, testenv.UserDir(t, ib.user))
		compareImage(t, "rootless ibuild", "Docker's (the reference)", img, wantTree, wantCfg)
	})
}

// compareImage reports where img, built by who, differs from the expected
// tree and config, named by what.
func compareImage(t *testing.T, who, what string, img v1.Image, want Tree, wantCfg Config) {
	t.Helper()
	got, err := Flatten(img)
	if err != nil {
		t.Fatalf("flattening the image of %s: %v", who, err)
	}
	gotCfg, err := ConfigOf(img)
	if err != nil {
		t.Fatal(err)
	}
	if d := DiffTrees(got, want); len(d) > 0 {
		t.Errorf("the filesystem of %s differs from %s (got %s):\n%s",
			who, what, who, FormatDiffs(d, 40))
	}
	if d := DiffConfigs(gotCfg, wantCfg); d != "" {
		t.Errorf("the config of %s differs from %s (-want +got):\n%s", who, what, d)
	}
}

// buildArgs returns the case's build args with the file server's URL.
func (s *suite) buildArgs(c Case) map[string]string {
	out := maps.Clone(c.Expect.BuildArgs)
	for k, v := range out {
		out[k] = strings.ReplaceAll(v, httpArg, s.files.URL+"/"+c.Name+"/served")
	}
	return out
}

// reference returns buildah's tree and config for the case, before its
// known differences are applied.
func (s *suite) reference(t *testing.T, c Case, args map[string]string) (Tree, Config) {
	t.Helper()
	if v := c.Expect.Buildah; v != nil {
		c.Dockerfile = filepath.Join(c.Dir, v.Dockerfile)
	}
	img := s.buildah.build(t, c, args, t.TempDir())
	tree, err := Flatten(img)
	if err != nil {
		t.Fatalf("flattening buildah's image: %v", err)
	}
	cfg, err := ConfigOf(img)
	if err != nil {
		t.Fatal(err)
	}
	return tree, cfg
}
