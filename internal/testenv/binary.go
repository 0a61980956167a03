package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// ibuild is the binary built once per test process.
var ibuild struct {
	once sync.Once
	path string
	err  error
}

// Binary builds ./cmd/ibuild of the module the test runs in, once per test
// process, and returns the path of the binary. It is built static
// (CGO_ENABLED=0) into a directory every user may read and enter, so that the
// [Unprivileged] user can run it too.
func Binary(t testing.TB) string {
	t.Helper()
	ibuild.once.Do(func() { ibuild.path, ibuild.err = buildIbuild(context.Background()) })
	if ibuild.err != nil {
		t.Fatalf("building ibuild: %v", ibuild.err)
	}
	return ibuild.path
}

// buildIbuild builds ./cmd/ibuild from the module around the working
// directory.
func buildIbuild(ctx context.Context) (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return "", err
	}
	dir, err := binDir(root)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "ibuild")
	return out, goBuild(ctx, root, "./cmd/ibuild", out)
}

// moduleRoot returns the nearest directory at or above dir with a go.mod.
func moduleRoot(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("finding go.mod above %s: %w", dir, os.ErrNotExist)
		}
		d = parent
	}
}

// binDir returns a directory for binaries built from the module at root:
// TMPDIR/ibuild-test-UID/HASH, mode 0755 and owned by us. It is the same for
// every test process of one checkout, so builds do not pile up in TMPDIR.
func binDir(root string) (string, error) {
	sum := sha256.Sum256([]byte(root))
	base := filepath.Join(os.TempDir(), fmt.Sprintf("ibuild-test-%d", os.Geteuid()))
	dir := filepath.Join(base, hex.EncodeToString(sum[:6]))
	for _, d := range []string{base, dir} {
		if err := ownDir(d); err != nil {
			return "", err
		}
	}
	if err := checkReachable(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// ownDir makes dir with mode 0755 if missing, and checks that it is a real
// directory of ours that nobody else can write to, since binaries in it run
// as root.
func ownDir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("making %s: %w", dir, err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("%s is not a directory owned by uid %d", dir, os.Geteuid())
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("making %s readable by all: %w", dir, err)
	}
	return nil
}

// checkReachable fails if some user could not enter dir because one of its
// parents is closed to others.
func checkReachable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s is not searchable by other users (mode %v); "+
				"set TMPDIR to a directory they can enter", d, fi.Mode().Perm())
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// goBuild builds pkg in the module at root as the executable out, replacing
// any earlier one atomically: another test process may be running it.
func goBuild(ctx context.Context, root, pkg, out string) error {
	tmp := fmt.Sprintf("%s.tmp%d", out, os.Getpid())
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmp, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, msg)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
