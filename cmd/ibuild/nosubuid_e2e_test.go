package main

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ibuild/ibuild/internal/testenv"
)

// TestRootlessWithoutSubuidRange builds FROM busybox with a RUN step as a
// user without a subordinate id range (nobody): only one id is mapped, so
// base files of other owners are unpacked as that id, the step runs, and
// the build says once how to add a range.
func TestRootlessWithoutSubuidRange(t *testing.T) {
	if _, err := user.Lookup("nobody"); err != nil {
		testenv.Require(t, "the user nobody")
	}
	if b, _ := os.ReadFile("/etc/subuid"); strings.Contains(string(b), "nobody:") {
		t.Fatalf("nobody has a subuid range on this machine; the test needs a user without one")
	}
	reg := testenv.Registry(t)
	testenv.PushBusybox(t, reg, "library/busybox:latest")
	dir := testenv.UserDir(t, "nobody")
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"),
		[]byte("FROM busybox\nRUN echo hello > /x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.Binary(t), "--root", filepath.Join(dir, "store"),
		"--progress", "plain", "--registry-mirror", reg, "-o", "type=oci,dest="+dir+"/out", dir)
	testenv.RunAs(t, "nobody", cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("build as nobody: %v\n%s", err, out.String())
	}
	if n := strings.Count(out.String(), "usermod --add-subuids"); n != 1 {
		t.Errorf("the advice to add a range appears %d times, want once:\n%s", n, out.String())
	}
	files := flatten(t, ociImage(t, dir+"/out"))
	if files["x"].Data != "hello\n" {
		t.Errorf("/x = %+v", files["x"])
	}
}
