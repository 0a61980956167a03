package compat

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ibuild/ibuild/internal/testenv"
)

// examplesDir holds the Kubernetes and CI examples.
const examplesDir = "../examples"

// TestCIExamplesRunLocally runs examples/ci/run-local.sh as the
// unprivileged test user: the build commands of the GitHub Actions and
// GitLab CI examples, rootless, pushing the image and its build cache to a
// loopback registry.
func TestCIExamplesRunLocally(t *testing.T) {
	user := testenv.Unprivileged(t)
	reg := testenv.Registry(t)
	pushBases(t, reg)
	// The user may not be able to enter the checkout (CI's is root's):
	// run a copy of the examples.
	udir := testenv.UserDir(t, user)
	if out, err := exec.Command("cp", "-a", filepath.Join(examplesDir, "ci"), udir).CombinedOutput(); err != nil {
		t.Fatalf("copying examples/ci: %v\n%s", err, out)
	}
	if out, err := exec.Command("chown", "-R", user, udir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	script := filepath.Join(udir, "ci", "run-local.sh")

	cmd := exec.CommandContext(t.Context(), "bash", script)
	cmd.Env = append(os.Environ(), "REGISTRY="+reg, "IBUILD="+testenv.Binary(t),
		"IBUILD_FLAGS=--registry-mirror "+reg, "TMPDIR="+udir)
	testenv.RunAs(t, user, cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run-local.sh: %v\n%s", err, lastLines(out, 60))
	}

	for _, repo := range []string{"ci/github", "ci/gitlab"} {
		cache, err := name.ParseReference(reg+"/"+repo+":buildcache", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := remote.Head(cache, remote.WithContext(t.Context())); err != nil {
			t.Errorf("run-local.sh pushed no build cache %s: %v", cache, err)
		}
		ref, err := name.ParseReference(reg+"/"+repo+":latest", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := remote.Image(ref, remote.WithContext(t.Context()))
		if err != nil {
			t.Errorf("run-local.sh pushed no %s: %v", ref, err)
			continue
		}
		tree, err := Flatten(img)
		if err != nil {
			t.Fatal(err)
		}
		want := &Node{Type: "dir", Mode: 0o755, UID: 1000, GID: 1000}
		if got := tree["/srv/app"]; !got.Equal(want) {
			t.Errorf("%s: /srv/app is %v, want %v (made by a rootless RUN)", ref, got, want)
		}
		if tree["/srv/app/index.html"] == nil {
			t.Errorf("%s: no /srv/app/index.html", ref)
		}
	}
}
