package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ibuild/ibuild/internal/testenv"
)

// TestHelloExample builds examples/hello, which needs no network, into an
// OCI layout and checks the image and its config as Docker would make them.
func TestHelloExample(t *testing.T) {
	out := t.TempDir()
	root := t.TempDir()
	ibuild(t, ".", "--root", root, "-t", "hello", "-o", "type=oci,dest="+out+"/hello",
		moduleFile(t, "examples/hello"))
	img := ociImage(t, out+"/hello")
	if err := validate.Image(img); err != nil {
		t.Fatalf("invalid image: %v", err)
	}
	files := flatten(t, img)
	want := map[string]fileEntry{
		"hello.txt": {Type: '0', Mode: 0o644, Data: "Hello from ibuild!\n"},
		"app":       {Type: '5', Mode: 0o755},
		"app/bin":   {Type: '5', Mode: 0o755, UID: 1000, GID: 1000},
		"app/bin/hello": {Type: '0', Mode: 0o755, UID: 1000, GID: 1000,
			Data: "#!/bin/sh\ncat /hello.txt\n"},
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("file tree (-want +got):\n%s", diff)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	wantEnv := []string{"PATH=" + defaultPathForTest, "GREETING=Hello from ibuild"}
	if diff := cmp.Diff(wantEnv, c.Env); diff != "" {
		t.Errorf("Env (-want +got):\n%s", diff)
	}
	if c.WorkingDir != "/app" || strings.Join(c.Cmd, " ") != "/app/bin/hello" {
		t.Errorf("WorkingDir %q Cmd %q", c.WorkingDir, c.Cmd)
	}
	if _, ok := c.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("ExposedPorts %v lacks 8080/tcp", c.ExposedPorts)
	}
	if c.Labels["org.opencontainers.image.title"] != "hello" {
		t.Errorf("Labels %v", c.Labels)
	}
	if p, err := exec.LookPath("skopeo"); err == nil {
		cmd := exec.Command(p, "inspect", "oci:"+out+"/hello:latest")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("skopeo inspect of the OCI layout: %v\n%s", err, b)
		}
	}
	if p, err := exec.LookPath("umoci"); err == nil {
		cmd := exec.Command(p, "unpack", "--image", out+"/hello:latest", out+"/bundle")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("umoci unpack of the OCI layout: %v\n%s", err, b)
		}
	}
}

const defaultPathForTest = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// TestPushPullRoundTrip builds FROM a base in a loopback registry (reached
// as a Docker Hub mirror), pushes the result to the registry server, and
// pulls it back: digests and bytes must match what the local store holds.
func TestPushPullRoundTrip(t *testing.T) {
	reg := testenv.Registry(t)
	testenv.PushBusybox(t, reg, "library/busybox:latest")
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY app.txt /srv/app.txt\nENV MODE=prod\n" +
			"USER app\nENTRYPOINT [\"/bin/cat\"]\nCMD [\"/srv/app.txt\"]\n",
		"app.txt": "payload\n",
	})
	root := t.TempDir()
	ref := reg + "/team/app:v1"
	oci := filepath.Join(t.TempDir(), "oci")
	ibuild(t, dir, "--root", root, "--registry-mirror", reg, "-t", ref, "--push",
		"--iidfile", dir+"/iid", "-o", "type=oci,dest="+oci, ".")
	local := ociImage(t, oci)
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pulling back %s: %v", ref, err)
	}
	ld, _ := local.Digest()
	pd, _ := pulled.Digest()
	if ld != pd {
		t.Fatalf("pushed digest %s, local layout %s", pd, ld)
	}
	lm, _ := local.RawManifest()
	pm, _ := pulled.RawManifest()
	if string(lm) != string(pm) {
		t.Errorf("manifests differ:\n%s\n%s", lm, pm)
	}
	if err := validate.Image(pulled); err != nil {
		t.Errorf("pulled image is invalid: %v", err)
	}
	files := flatten(t, pulled)
	if got := files["srv/app.txt"]; got.Data != "payload\n" || got.Mode != 0o644 {
		t.Errorf("srv/app.txt = %+v", got)
	}
	if _, ok := files["bin/busybox"]; !ok {
		t.Errorf("base layer missing from the pushed image")
	}
	iid, _ := os.ReadFile(dir + "/iid")
	cfgName, _ := pulled.ConfigName()
	if string(iid) != cfgName.String() {
		t.Errorf("--iidfile holds %q, want %q", iid, cfgName)
	}
}

// TestDockerArchive writes a `docker load` tarball and checks that skopeo
// reads it.
func TestDockerArchive(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "x"})
	tarPath := filepath.Join(t.TempDir(), "img.tar")
	ibuild(t, dir, "--root", t.TempDir(), "-t", "example/a:1", "-o", "type=docker,dest="+tarPath, ".")
	tag, err := name.NewTag("example/a:1")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(tarPath, &tag)
	if err != nil {
		t.Fatalf("reading the docker archive: %v", err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("invalid image in the docker archive: %v", err)
	}
	p, err := exec.LookPath("skopeo")
	if err != nil {
		testenv.Require(t, "skopeo (Debian package skopeo)")
	}
	b, err := exec.Command(p, "inspect", "docker-archive:"+tarPath).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect docker-archive: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), `"Digest"`) {
		t.Errorf("skopeo inspect printed no digest:\n%s", b)
	}
	mf, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(tarPath) })
	if err != nil {
		t.Fatalf("reading manifest.json: %v", err)
	}
	if len(mf) != 1 || len(mf[0].RepoTags) != 1 || mf[0].RepoTags[0] != "example/a:1" {
		t.Errorf("manifest.json RepoTags = %+v, want [example/a:1]", mf)
	}
}
