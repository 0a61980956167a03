package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ibuild/ibuild/internal/testenv"
)

// layerNames lists the entries of one layer.
func layerNames(t *testing.T, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	sort.Strings(names)
	return names
}

// TestRethinkdbExample builds examples/rethinkdb (FROM ubuntu, RUN, ADD) as
// root and as an unprivileged user, with Docker Hub served by a loopback
// registry. /version must hold 0.2, the RUN layer must hold exactly what the
// step wrote, and both builds must give the same layers.
func TestRethinkdbExample(t *testing.T) {
	reg := testenv.Registry(t)
	testenv.PushBusybox(t, reg, "library/ubuntu:latest")
	user := testenv.Unprivileged(t)
	src := moduleFile(t, "examples/rethinkdb")

	rootOut := filepath.Join(t.TempDir(), "oci")
	cmd := exec.Command(testenv.Binary(t), "--root", t.TempDir(), "--registry-mirror", reg,
		"-t", "rethinkdb", "-o", "type=oci,dest="+rootOut, src)
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("root build: %v\n%s", err, b)
	}

	udir := testenv.UserDir(t, user)
	ctx := filepath.Join(udir, "ctx")
	if b, err := exec.Command("cp", "-a", src, ctx).CombinedOutput(); err != nil {
		t.Fatalf("copying the example: %v\n%s", err, b)
	}
	if b, err := exec.Command("chown", "-R", user, ctx).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, b)
	}
	userOut := filepath.Join(udir, "oci")
	cmd = exec.Command(testenv.Binary(t), "--root", filepath.Join(udir, "store"),
		"--registry-mirror", reg, "-t", "rethinkdb", "-o", "type=oci,dest="+userOut, ctx)
	testenv.RunAs(t, user, cmd)
	cmd.Env = append(cmd.Env, "SOURCE_DATE_EPOCH=1700000000")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("rootless build: %v\n%s", err, out.String())
	}

	for name, dir := range map[string]string{"root": rootOut, "rootless": userOut} {
		img := ociImage(t, dir)
		files := flatten(t, img)
		if got := files["version"]; got.Data != "0.2\n" || got.Type != tar.TypeReg {
			t.Errorf("%s: /version = %+v, want a file holding 0.2", name, got)
		}
		if got := files["rethinkdb-install.sh"]; got.Mode != 0o755 {
			t.Errorf("%s: /rethinkdb-install.sh mode %o, want 755", name, got.Mode)
		}
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) != 3 {
			t.Fatalf("%s: %d layers, want base + RUN + ADD", name, len(ls))
		}
		if diff := cmp.Diff([]string{"version"}, layerNames(t, ls[1])); diff != "" {
			t.Errorf("%s: RUN layer entries (-want +got):\n%s", name, diff)
		}
		cf, _ := img.ConfigFile()
		if cf.Author != "Kimbro Staken" {
			t.Errorf("%s: author %q", name, cf.Author)
		}
		if _, ok := cf.Config.ExposedPorts["8100/tcp"]; !ok {
			t.Errorf("%s: ExposedPorts %v", name, cf.Config.ExposedPorts)
		}
	}
	a, _ := ociImage(t, rootOut).Digest()
	b, _ := ociImage(t, userOut).Digest()
	if a != b {
		t.Errorf("root and rootless builds differ: %s vs %s", a, b)
	}
}
