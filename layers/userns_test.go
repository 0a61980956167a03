//go:build linux

package layers

import (
	"archive/tar"
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const inUserNSEnv = "IBUILD_LAYERS_IN_USERNS"

// TestExtractInUserNamespace runs the extraction of a layer with device
// nodes, foreign owners and trusted xattrs inside a user namespace that
// maps only uid and gid 0, as rootless ibuild does without a subuid range.
// The test binary re-executes itself there.
func TestExtractInUserNamespace(t *testing.T) {
	if os.Getenv(inUserNSEnv) == "1" {
		extractInUserNS(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExtractInUserNamespace$", "-test.v")
	cmd.Env = append(os.Environ(), inUserNSEnv+"=1")
	id := func(host int) []syscall.SysProcIDMap {
		return []syscall.SysProcIDMap{{ContainerID: 0, HostID: host, Size: 1}}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: id(os.Getuid()),
		GidMappings: id(os.Getgid()),
	}
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(err.Error(), "operation not permitted") {
		t.Skipf("no user namespaces here: %v", err)
	}
	if err != nil {
		t.Fatalf("in a user namespace: %v\n%s", err, out)
	}
	t.Logf("in the user namespace:\n%s", out)
	if !strings.Contains(string(out), "--- PASS: TestExtractInUserNamespace") {
		t.Fatalf("the run in the user namespace did not pass:\n%s", out)
	}
}

func extractInUserNS(t *testing.T) {
	ents := []tent{
		{name: "dev/null", typ: tar.TypeChar, major: 1, minor: 3, mode: 0o666},
		{name: "dev/loop0", typ: tar.TypeBlock, major: 7, minor: 0},
		{name: "dev/fifo", typ: tar.TypeFifo},
		{name: ".wh.gone"},
		{name: "etc/.wh..wh..opq"},
		{name: "f", body: "x", xattrs: map[string]string{"user.a": "1", "trusted.b": "2"}},
		{name: "home/app/", typ: tar.TypeDir, uid: 1000, gid: 1000},
	}

	root := t.TempDir()
	_, err := extract(t, root, ents...)
	if !errContains(err, "setting owner 1000:1000") {
		t.Errorf("foreign owner without LossyOwners: %v", err)
	}

	root = t.TempDir()
	var warnings []string
	opts := ExtractOptions{LossyOwners: true, Warn: func(err error) {
		warnings = append(warnings, err.Error())
	}}
	if err := Extract(context.Background(), tarReader(t, ents...), root, opts); err != nil {
		t.Fatal(err)
	}
	want := map[string]node{
		".": dirNode(0o755), "dev": dirNode(0o755), "dev/fifo": {Type: "fifo", Mode: 0o644},
		"gone": whiteoutNode,
		"etc":  {Type: "dir", Mode: 0o755, Xattrs: map[string]string{OpaqueXattr: "y"}},
		"f":    {Type: "file", Mode: 0o644, Body: "x", Xattrs: map[string]string{"user.a": "1"}},
		"home": dirNode(0o755), "home/app": dirNode(0o755),
	}
	if diff := cmp.Diff(want, snapshot(t, root), ignoreMtime); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}
	wantWarnings := []string{
		"skipping device dev/null (1:3): operation not permitted",
		"skipping device dev/loop0 (7:0): operation not permitted",
		"skipping xattr trusted.b of f: operation not permitted",
		"home/app/: setting owner 1000:1000: invalid argument",
	}
	if diff := cmp.Diff(wantWarnings, warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}
