package main

import (
	"encoding/json"
	"strings"
	"testing"

	spdxjson "github.com/spdx/tools-golang/json"

	"github.com/ibuild/ibuild/internal/testenv"
)

// TestAttestCLI is issue 11's done criterion: the rethinkdb example built
// with --sbom --provenance (FROM ubuntu, served by a mirror holding busybox
// under that name) carries both, `ibuild inspect` prints them, and
// tools-golang parses the SBOM.
func TestAttestCLI(t *testing.T) {
	reg := testenv.Registry(t)
	testenv.PushBusybox(t, reg, "library/ubuntu:latest")
	c := newCLI(t)
	root := t.TempDir()
	c.ok("build", "--root", root, "--progress", "plain", "--registry-mirror", reg,
		"--sbom", "--provenance", "-t", "rethinkdb", moduleFile(t, "examples/rethinkdb"))

	sbom := c.ok("inspect", "--root", root, "--sbom", "rethinkdb").stdout
	doc, err := spdxjson.Read(strings.NewReader(sbom))
	if err != nil {
		t.Fatalf("tools-golang cannot read `ibuild inspect --sbom`: %v\n%s", err, sbom)
	}
	if len(doc.Files) != 1 || doc.Files[0].FileName != "/rethinkdb-install.sh" {
		t.Errorf("SBOM files: %+v", doc.Files)
	}

	out := c.ok("inspect", "--root", root, "--provenance", "rethinkdb").stdout
	var prov struct {
		BuildDefinition struct {
			ResolvedDependencies []struct{ URI string }
		}
	}
	if err := json.Unmarshal([]byte(out), &prov); err != nil {
		t.Fatalf("`ibuild inspect --provenance` is not JSON: %v\n%s", err, out)
	}
	deps := prov.BuildDefinition.ResolvedDependencies
	if len(deps) != 1 || deps[0].URI != "pkg:docker/ubuntu@latest?platform=linux%2Famd64" {
		t.Errorf("resolved dependencies: %+v", deps)
	}

	// The image is an ordinary image for the other commands.
	if got := c.ok("images", "--root", root).stdout; !strings.Contains(got, "rethinkdb") {
		t.Errorf("ibuild images does not list rethinkdb:\n%s", got)
	}
	c.ok("build", "--root", root, "--registry-mirror", reg, "-t", "plain",
		moduleFile(t, "examples/rethinkdb"))
	c.fails(1, []string{"has no such attestation"}, "inspect", "--root", root, "--sbom", "plain")
	c.fails(2, []string{"--sbom", "cyclonedx"}, "build", "--root", root, "--sbom=xml",
		moduleFile(t, "examples/rethinkdb"))
}
