package compat

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ibuild/ibuild/internal/testenv"
)

// moduleRoot is the checkout the tests run in.
const moduleRoot = ".."

// makeTarget runs `make ARGS` in the checkout and fails the test when it
// fails.
func makeTarget(t *testing.T, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		testenv.Require(t, "make (Debian package make)")
	}
	cmd := exec.CommandContext(t.Context(), "make", append([]string{"-C", moduleRoot}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// gitOutput returns the trimmed output of git ARGS in the checkout, or ""
// when git cannot tell (no git, not a checkout).
func gitOutput(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "git", append([]string{"-C", moduleRoot}, args...)...)
	out, err := cmd.Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// TestMakeBuildIsStatic checks that `make build` gives a statically linked
// binary whose `ibuild version` names the version and commit of the
// checkout.
func TestMakeBuildIsStatic(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "ibuild")
	describe := gitOutput(t, "describe", "--always", "--dirty")
	makeTarget(t, "build", "BIN="+bin)

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("reading %s: %v", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: it is dynamically linked", bin)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v (%v), want none", bin, libs, err)
	}
	if _, err := exec.LookPath("file"); err == nil {
		out, err := exec.Command("file", bin).Output()
		if err != nil || !strings.Contains(string(out), "statically linked") {
			t.Errorf("file %s: %s (%v), want \"statically linked\"", bin, out, err)
		}
	}

	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("%s version: %v", bin, err)
	}
	want := []string{"ibuild dev "}
	if describe != "" {
		want = []string{"ibuild " + describe + " ", "commit " + gitOutput(t, "rev-parse", "HEAD")}
	}
	for _, w := range want {
		if !strings.Contains(string(out), w) {
			t.Errorf("ibuild version = %q, want it to contain %q", out, w)
		}
	}
}

// TestMakeInstall checks that `make install` puts an executable ibuild in
// PREFIX/bin below DESTDIR.
func TestMakeInstall(t *testing.T) {
	dir := t.TempDir()
	makeTarget(t, "install", "BIN="+filepath.Join(dir, "ibuild"),
		"DESTDIR="+filepath.Join(dir, "dest"), "PREFIX=/usr")

	installed := filepath.Join(dir, "dest", "usr", "bin", "ibuild")
	fi, err := os.Stat(installed)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("%s: mode %v, want 0755", installed, fi.Mode().Perm())
	}
	if out, err := exec.Command(installed, "version").Output(); err != nil ||
		!strings.HasPrefix(string(out), "ibuild ") {
		t.Errorf("%s version: %q, %v", installed, out, err)
	}
}
