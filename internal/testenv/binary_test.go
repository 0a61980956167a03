package testenv

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestBuildIbuild builds a throwaway module's cmd/ibuild as Binary would.
func TestBuildIbuild(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "module example.com/tiny\n\ngo 1.22\n")
	main := "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Print(\"tiny ok\") }\n"
	writeFile(t, filepath.Join(root, "cmd", "ibuild", "main.go"), main)
	t.Chdir(filepath.Join(root, "cmd"))

	path, err := buildIbuild(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(path)) })
	if want, _ := binDir(root); filepath.Dir(path) != want {
		t.Errorf("built %s, want it in %s", path, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}
	msg, err := exec.Command(path).Output()
	if err != nil || string(msg) != "tiny ok" {
		t.Errorf("running the binary: %q, %v; want \"tiny ok\"", msg, err)
	}
}

func TestBinDir(t *testing.T) {
	root := "/nonexistent/" + t.Name()
	dir, err := binDir(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dir) })
	again, err := binDir(root)
	if err != nil || again != dir {
		t.Errorf("second binDir = %q, %v; want %q", again, err, dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode().Perm())
	}
}

func TestBinary(t *testing.T) {
	// TODO: drop this guard once cmd/ibuild exists.
	if m, _ := filepath.Glob("../../cmd/ibuild/*.go"); len(m) == 0 {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal("cmd/ibuild has no Go files yet")
		}
		t.Skip("cmd/ibuild has no Go files yet")
	}
	path := Binary(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("%s: mode %v, want 0755", path, fi.Mode().Perm())
	}
	if err := checkReachable(filepath.Dir(path)); err != nil {
		t.Error(err)
	}
	if again := Binary(t); again != path {
		t.Errorf("second Binary() = %q, want %q", again, path)
	}
}

func writeFile(t *testing.T, path, contents string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(contents), 0o644); err != nil {
		t.Fatal(err)
	}
}
