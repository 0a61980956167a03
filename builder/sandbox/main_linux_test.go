package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Helpers run inside the test binary when started by a test with helperEnv set;
// helperDirEnv names the directory they work in.
const (
	helperEnv    = "IBUILD_SANDBOX_TEST_HELPER"
	helperDirEnv = "IBUILD_SANDBOX_TEST_DIR"
)

func TestMain(m *testing.M) {
	// Run re-executes this test binary as the sandbox child.
	Main()
	switch os.Getenv(helperEnv) {
	case "":
		// As an ordinary user the whole suite runs in ibuild's user namespace.
		if err := EnterUserNS(); err != nil {
			fmt.Fprintln(os.Stderr, "entering user namespace:", err)
			os.Exit(2)
		}
		if w := UserNSWarning(); w != "" {
			fmt.Fprintln(os.Stderr, "warning:", w)
		}
		os.Exit(m.Run())
	case "rootless":
		os.Exit(rootlessHelper(os.Getenv(helperDirEnv)))
	case "rootless-single":
		os.Exit(singleIDHelper(os.Getenv(helperDirEnv)))
	case "sleep":
		os.Exit(sleepHelper(os.Getenv(helperDirEnv)))
	default:
		fmt.Fprintf(os.Stderr, "unknown helper %q\n", os.Getenv(helperEnv))
		os.Exit(2)
	}
}

// busyboxApplets are linked into the test root; others fall back to busybox itself.
var busyboxApplets = []string{
	"sh", "ls", "cat", "echo", "id", "touch", "rm", "mkdir", "chown", "chmod", "ln",
	"sleep", "hostname", "test", "stat", "true", "false", "env", "pwd", "ip", "ifconfig",
	"mknod", "readlink", "grep", "kill", "mv", "cut", "tr",
}

// buildBusyboxRoot makes dir a tiny root filesystem: /bin/busybox, applet
// symlinks, /etc/passwd and /etc/group.
func buildBusyboxRoot(dir string) error {
	for _, d := range []string{"bin", "etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		return err
	}
	src, err := os.Open("/bin/busybox")
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(dir, "bin/busybox"), os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	for _, a := range busyboxApplets {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", a)); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n" +
			"nobody:x:65534:65534::/:/bin/false\n",
		"etc/group": "root:x:0:\ntty:x:5:\napp:x:1000:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// testSpec returns a spec over a fresh busybox root with upper and work in dir.
func testSpec(t testing.TB, script string) Spec {
	t.Helper()
	dir := t.TempDir()
	lower := filepath.Join(dir, "lower")
	if err := buildBusyboxRoot(lower); err != nil {
		t.Fatalf("building busybox root: %v", err)
	}
	return Spec{
		Lowers: []string{lower},
		Upper:  filepath.Join(dir, "upper"),
		Work:   filepath.Join(dir, "work"),
		Args:   []string{"/bin/sh", "-c", script},
		Env:    []string{"PATH=/bin"},
	}
}

// run runs spec and returns its stdout; stderr goes to the test log.
func run(t testing.TB, spec Spec) (string, []string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	spec.Stdout, spec.Stderr = &out, &errOut
	created, err := Run(context.Background(), spec)
	if errOut.Len() > 0 {
		t.Logf("stderr of %q: %s", spec.Args, errOut.String())
	}
	return out.String(), created, err
}

// noMountLeak fails the test if the host's mount table changed below the
// test's temporary directories when it ends. Mounts elsewhere are other
// programs' business (a build tool running beside the tests).
func noMountLeak(t testing.TB) {
	t.Helper()
	base := filepath.Dir(t.TempDir())
	before := mountTable(t, base)
	t.Cleanup(func() {
		if after := mountTable(t, base); after != before {
			t.Errorf("mounts changed on the host:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	})
}

// mountTable lists the mount points below base (and of the root's own
// mount namespace entries that mention base anywhere).
func mountTable(t testing.TB, base string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, base) {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// needRoot skips tests that need uid 0 with ids 0..65535 usable: real root, or
// an ordinary user with a subordinate id range (TestMain calls EnterUserNS).
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		require(t, "root or a user namespace")
	}
	if !IDMapped() {
		require(t, "a subordinate id range (only one id is mapped): "+UserNSWarning())
	}
}

// realRoot reports whether the test runs as root of the initial user namespace.
func realRoot() bool {
	m, err := readIDMap("/proc/self/uid_map")
	return err == nil && os.Geteuid() == 0 && len(m) == 1 && m[0].Outside == 0 &&
		m[0].Size == 4294967295
}

// require skips with a clear message, or fails when IBUILD_TEST_REQUIRE=1.
func require(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("IBUILD_TEST_REQUIRE") == "1" {
		t.Fatalf("needs %s (IBUILD_TEST_REQUIRE=1)", what)
	}
	t.Skipf("needs %s", what)
}

// processWith reports whether a process whose command line is exactly args runs.
func processWith(args ...string) bool {
	want := strings.Join(args, "\x00") + "\x00"
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && string(b) == want {
			return true
		}
	}
	return false
}
