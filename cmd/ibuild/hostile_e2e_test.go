package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerfileSymlinkOutside builds a context whose Dockerfile is a
// symlink to a host file: ibuild does not read it (as BuildKit, it resolves
// the link inside the Dockerfile's directory), so the host file's lines do
// not appear in the error, where a CI log would show them.
func TestDockerfileSymlinkOutside(t *testing.T) {
	secret := randomHex(t, "host-line")
	host := filepath.Join(t.TempDir(), "shadow")
	writeFiles(t, filepath.Dir(host), map[string]string{"shadow": secret + ":x:0:0\n"})
	ctxDir := t.TempDir()
	if err := os.Symlink(host, filepath.Join(ctxDir, "Dockerfile")); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(ctxDir, "sub")
	writeFiles(t, sub, map[string]string{"keep": "x"})
	if err := os.Symlink("../../../../../../../.."+host, filepath.Join(sub, "app.Dockerfile")); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{ctxDir}, {"-f", filepath.Join(sub, "app.Dockerfile"), ctxDir}} {
		out, err := ibuildErr(t, ctxDir, append([]string{"--root", t.TempDir()}, args...)...)
		if err == nil {
			t.Errorf("ibuild %v built a Dockerfile that links out of its directory", args)
		}
		if strings.Contains(out, secret) {
			t.Errorf("ibuild %v printed the host file:\n%s", args, out)
		}
	}
}
