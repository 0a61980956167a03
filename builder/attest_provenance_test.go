package builder

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ibuild/ibuild/builder/attest"
	"github.com/ibuild/ibuild/registry"
)

// provenance is the part of an SLSA v1 predicate the tests look at.
type provenance struct {
	BuildDefinition struct {
		BuildType          string
		ExternalParameters struct {
			ConfigSource struct {
				Path   string
				Digest map[string]string
			}
			Context struct{ Digest map[string]string }
			Request struct {
				Target, Platform  string
				Args, OmittedArgs map[string]string
				Secrets           []string
			}
		}
		ResolvedDependencies []struct {
			URI    string
			Digest map[string]string
		}
	}
	RunDetails struct {
		Builder  struct{ ID string }
		Metadata struct{ InvocationID, StartedOn, FinishedOn string }
	}
}

const provenanceDockerfile = `ARG BASE=busybox
FROM ${BASE} AS base
FROM scratch AS final
ARG VERSION
COPY --from=base /bin/busybox /bin/busybox
COPY --from=busybox /etc/passwd /etc/passwd
COPY a.txt /
`

// TestProvenanceInputs builds from busybox and checks that the provenance
// lists exactly the build's inputs: the Dockerfile and context digests,
// the base image by digest, the target and platform, and the build
// arguments without those that look like or hold secrets.
func TestProvenanceInputs(t *testing.T) {
	mirror := busyboxMirror(t)
	bb, err := registry.Pull(context.Background(), mirror+"/library/busybox:latest",
		registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bbDigest, _ := bb.Digest()
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{{path: "a.txt", content: "a"}})
	t.Setenv("IBUILD_TEST_SECRET", "s3cr3t-value")
	df := provenanceDockerfile
	res := buildResult(t, t.TempDir(), ctxDir, df, withBusybox(t, func(o *Options) {
		o.Target = "final"
		o.BuildArgs = map[string]string{"VERSION": "1.2", "API_TOKEN": "tok-123456",
			"DB_URL": "postgres://app:s3cr3t-value@db/app"}
		o.Secrets = map[string]Secret{"db": {Env: "IBUILD_TEST_SECRET"}}
		o.Attest = AttestOptions{Provenance: true, Version: "v1.2.3"}
	}))
	st := statements(t, res)[attest.PredicateProvenance]
	if st == nil {
		t.Fatal("no provenance statement")
	}
	raw := string(st.Predicate)
	for _, secret := range []string{"s3cr3t-value", "tok-123456"} {
		if strings.Contains(raw, secret) {
			t.Errorf("the provenance holds the secret %q:\n%s", secret, raw)
		}
	}
	var p provenance
	if err := json.Unmarshal(st.Predicate, &p); err != nil {
		t.Fatal(err)
	}
	ext := p.BuildDefinition.ExternalParameters
	if got := ext.ConfigSource.Digest["sha256"]; got != sha256Hex(provenanceDockerfile) ||
		ext.ConfigSource.Path != "Dockerfile" {
		t.Errorf("config source = %+v", ext.ConfigSource)
	}
	var deps []string
	for _, d := range p.BuildDefinition.ResolvedDependencies {
		deps = append(deps, d.URI+" "+d.Digest["sha256"])
	}
	wantDeps := []string{"pkg:docker/busybox@latest?platform=linux%2Famd64 " + bbDigest.Hex}
	if diff := cmp.Diff(wantDeps, deps); diff != "" {
		t.Errorf("resolved dependencies (-want +got):\n%s", diff)
	}
	req := ext.Request
	wantReq := map[string]any{"target": "final", "platform": "linux/amd64",
		"args": map[string]string{"VERSION": "1.2"}, "secrets": []string{"db"},
		"omitted": []string{"API_TOKEN", "DB_URL"}}
	gotReq := map[string]any{"target": req.Target, "platform": req.Platform, "args": req.Args,
		"secrets": req.Secrets, "omitted": omittedNames(req.OmittedArgs)}
	if diff := cmp.Diff(wantReq, gotReq); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	run := p.RunDetails
	if run.Builder.ID != attest.BuilderID+"@v1.2.3" || run.Metadata.InvocationID == "" ||
		run.Metadata.StartedOn == "" || run.Metadata.FinishedOn < run.Metadata.StartedOn {
		t.Errorf("run details = %+v", run)
	}
	if len(ext.Context.Digest["sha256"]) != 64 {
		t.Errorf("context digest = %v", ext.Context.Digest)
	}
}

func omittedNames(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// time0 is a modification time no test file has.
var time0 = time.Unix(1e9, 0)

// contextDigestOf writes files into a new context directory, applies
// change to it and returns the context's digest.
func contextDigestOf(t *testing.T, files []ctxFile, change func(dir string) error) string {
	t.Helper()
	dir := t.TempDir()
	writeContext(t, dir, files)
	if change != nil {
		if err := change(dir); err != nil {
			t.Fatal(err)
		}
	}
	b := &build{opts: Options{ContextDir: dir}, context: newBuildContext(dir, "", "Dockerfile")}
	h, err := b.contextDigest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.String()
}

// TestContextDigest checks that the context digest depends on the content,
// names and modes of what COPY can read, and on nothing else: not the
// directory, the times, nor files the ignore file leaves out.
func TestContextDigest(t *testing.T) {
	files := []ctxFile{
		{path: ".dockerignore", content: "*.log\nbuild/\n!build/keep\n"},
		{path: "src/main.c", content: "int main;"},
		{path: "run.sh", content: "#!/bin/sh", mode: 0o755},
		{path: "link", link: "src/main.c"},
		{path: "debug.log", content: "noise"},
		{path: "build/out.o", content: "object"},
		{path: "build/keep", content: "kept"},
	}
	base := contextDigestOf(t, files, nil)
	tests := []struct {
		name   string
		change func(dir string) error
		same   bool
	}{
		{"same files elsewhere", func(string) error { return nil }, true},
		{"new times", func(d string) error {
			return os.Chtimes(filepath.Join(d, "run.sh"), time0, time0)
		}, true},
		{"ignored file changed", func(d string) error {
			return os.WriteFile(filepath.Join(d, "debug.log"), []byte("other"), 0o644)
		}, true},
		{"file under an ignored directory changed", func(d string) error {
			return os.WriteFile(filepath.Join(d, "build/out.o"), []byte("other"), 0o644)
		}, true},
		{"re-included file changed", func(d string) error {
			return os.WriteFile(filepath.Join(d, "build/keep"), []byte("other"), 0o644)
		}, false},
		{"content changed", func(d string) error {
			return os.WriteFile(filepath.Join(d, "src/main.c"), []byte("int x;"), 0o644)
		}, false},
		{"mode changed", func(d string) error {
			return os.Chmod(filepath.Join(d, "run.sh"), 0o700)
		}, false},
		{"file renamed", func(d string) error {
			return os.Rename(filepath.Join(d, "run.sh"), filepath.Join(d, "go.sh"))
		}, false},
		{"symlink target changed", func(d string) error {
			os.Remove(filepath.Join(d, "link"))
			return os.Symlink("run.sh", filepath.Join(d, "link"))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := contextDigestOf(t, files, tt.change)
			if (got == base) != tt.same {
				t.Errorf("digest %s, before %s: same = %v, want %v", got, base, got == base,
					tt.same)
			}
		})
	}
}
