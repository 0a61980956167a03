package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReadSubIDs(t *testing.T) {
	const file = "# comment\nalice:100000:65536\n1001:300000:1000\nbob:200000:65536\n" +
		"alice:500000:10\nzero:1:0\n"
	tests := []struct {
		name string
		user string
		id   int
		want []subIDRange
	}{
		{"by name, two ranges", "alice", 1000, []subIDRange{{100000, 65536}, {500000, 10}}},
		{"by uid", "carol", 1001, []subIDRange{{300000, 1000}}},
		{"none", "dave", 1002, nil},
		{"empty range skipped", "zero", 1003, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readSubIDs("subuid", strings.NewReader(file), tt.user, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ranges (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := readSubIDs("subuid", strings.NewReader("alice:x:1\n"), "alice", 1); err == nil {
		t.Errorf("bad start: want an error")
	}
}

// TestRootless runs EnterUserNS and Run as an unprivileged user with a subuid
// range: a chown to 1000:1000 in the step must land as subuid start + 999 on the host.
func TestRootless(t *testing.T) {
	u, start := unprivilegedUser(t)
	noMountLeak(t)
	work, out := runAsUser(t, u, "rootless", "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
	for _, want := range []string{
		"inside: 1000:1000\n", "mapped: true\n", "warning: \"\"\n", "groups: 1000 1000 5 65534\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("helper output lacks %q", want)
		}
	}
	fi, err := os.Lstat(filepath.Join(work, "upper", "x"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if want := start + 999; st.Uid != want {
		t.Errorf("owner of /x on the host %d:%d, want uid %d", st.Uid, st.Gid, want)
	}
}

// TestRootlessSingleID hides newuidmap: only the user's own id is mapped, one
// warning says so, and steps that need other ids fail clearly.
func TestRootlessSingleID(t *testing.T) {
	u, _ := unprivilegedUser(t)
	noMountLeak(t)
	_, out := runAsUser(t, u, "rootless-single", "PATH=/nonexistent")
	for _, want := range []string{
		"mapped: false\n",
		"warning: \"newuidmap/newgidmap (package uidmap) not found",
		"chown step: chown: /x: Invalid argument\nexit code: 1\n",
		"uid 1000 step: running as uid 1000: not mapped",
		"root step: 0 0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("helper output lacks %q", want)
		}
	}
}

// unprivilegedUser returns the test user (IBUILD_TEST_USER, default ibuildtest)
// and the start of its subordinate uid range, or skips.
func unprivilegedUser(t *testing.T) (*user.User, uint32) {
	t.Helper()
	name := os.Getenv("IBUILD_TEST_USER")
	if name == "" {
		name = "ibuildtest"
	}
	if !realRoot() {
		require(t, "real root to start the test as user "+name)
	}
	u, err := user.Lookup(name)
	if err != nil {
		require(t, "an unprivileged user "+name+" (set IBUILD_TEST_USER): "+err.Error())
	}
	uid, _ := strconv.Atoi(u.Uid)
	ranges, err := subIDsOf("/etc/subuid", name, uid)
	if err != nil || len(ranges) == 0 {
		require(t, "a subordinate uid range for "+name+" in /etc/subuid")
	}
	if _, err := exec.LookPath("newuidmap"); err != nil {
		require(t, "newuidmap (package uidmap)")
	}
	return u, ranges[0].Start
}

// runAsUser runs a copy of the test binary as u with the helper named mode and
// returns the helper's directory and output.
func runAsUser(t *testing.T, u *user.User, mode, pathEnv string) (string, string) {
	t.Helper()
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The user must reach base: t.TempDir's parent is private to root.
	base, err := os.MkdirTemp("", "ibuild-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	bin := filepath.Join(base, "sandbox.test")
	work := filepath.Join(base, "work")
	copyExecutable(t, bin)
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(work, uid, gid); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = []string{helperEnv + "=" + mode, helperDirEnv + "=" + work, pathEnv,
		"HOME=" + u.HomeDir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{},
	}}
	out, err := cmd.CombinedOutput()
	t.Logf("helper output:\n%s", out)
	if err != nil {
		t.Fatalf("helper %s as %s: %v", mode, u.Username, err)
	}
	return work, string(out)
}

// rootlessHelper runs as the unprivileged user: it enters the user namespace,
// runs a step that chowns /x, and prints what it sees.
func rootlessHelper(dir string) int {
	if err := EnterUserNS(); err != nil {
		fmt.Println("EnterUserNS:", err)
		return 1
	}
	fmt.Printf("euid: %d\nmapped: %v\nwarning: %q\n", os.Geteuid(), IDMapped(), UserNSWarning())
	lower := filepath.Join(dir, "lower")
	if err := buildBusyboxRoot(lower); err != nil {
		fmt.Println("building root:", err)
		return 1
	}
	spec := Spec{
		Lowers: []string{lower}, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "w"),
		Args:   []string{"sh", "-c", "touch /x && chown 1000:1000 /x && id -u && id -un"},
		Stdout: os.Stdout, Stderr: os.Stdout,
	}
	start := time.Now()
	if _, err := Run(context.Background(), spec); err != nil {
		fmt.Println("Run:", err)
		return 1
	}
	fmt.Printf("step took %v\n", time.Since(start))
	spec.Args = []string{"sh", "-c", "echo groups: $(id -u) $(id -G)"}
	spec.UID, spec.GID, spec.AdditionalGIDs = 1000, 1000, []uint32{5, 65534}
	if _, err := Run(context.Background(), spec); err != nil {
		fmt.Println("Run as 1000:", err)
		return 1
	}
	fi, err := os.Lstat(filepath.Join(dir, "upper", "x"))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	st := fi.Sys().(*syscall.Stat_t)
	fmt.Printf("inside: %d:%d\n", st.Uid, st.Gid)
	return 0
}

// singleIDHelper runs as the unprivileged user without newuidmap in PATH.
func singleIDHelper(dir string) int {
	if err := EnterUserNS(); err != nil {
		fmt.Println("EnterUserNS:", err)
		return 1
	}
	fmt.Printf("mapped: %v\nwarning: %q\n", IDMapped(), UserNSWarning())
	lower := filepath.Join(dir, "lower")
	if err := buildBusyboxRoot(lower); err != nil {
		fmt.Println("building root:", err)
		return 1
	}
	steps := []struct {
		name   string
		uid    uint32
		script string
	}{
		{"root step", 0, "echo $(id -u) $(id -g)"},
		{"chown step", 0, "touch /x && chown 1000:1000 /x"},
		{"uid 1000 step", 1000, "true"},
	}
	for i, s := range steps {
		spec := Spec{
			Lowers: []string{lower},
			Upper:  filepath.Join(dir, fmt.Sprint("upper", i)),
			Work:   filepath.Join(dir, fmt.Sprint("work", i)),
			Args:   []string{"sh", "-c", s.script}, UID: s.uid, GID: s.uid,
		}
		out, err := stepOutput(spec)
		fmt.Printf("%s: %s%v\n", s.name, out, err)
	}
	return 0
}

func stepOutput(spec Spec) (string, error) {
	var b strings.Builder
	spec.Stdout, spec.Stderr = &b, &b
	_, err := Run(context.Background(), spec)
	return b.String(), err
}

// TestParentKilled kills the process that called Run with SIGKILL: the step's
// processes must die with it and no mount may stay behind.
func TestParentKilled(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	dir := t.TempDir()
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = []string{helperEnv + "=sleep", helperDirEnv + "=" + dir}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		t.Fatalf("helper said %q, %v", line, err)
	}
	// "ready" comes just before the exec of sleep.
	if !waitFor(func() bool { return processWith("sleep", "4322") }) {
		t.Errorf("the step's sleep 4322 does not run")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !waitFor(func() bool { return !processWith("sleep", "4322") }) {
		t.Fatalf("sleep 4322 still runs 5s after its ibuild was killed")
	}
}

// waitFor polls cond for up to 5 seconds.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// sleepHelper runs a step that says "ready" and sleeps until killed.
func sleepHelper(dir string) int {
	lower := filepath.Join(dir, "lower")
	if err := buildBusyboxRoot(lower); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	spec := Spec{
		Lowers: []string{lower}, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "w"),
		Args:   []string{"sh", "-c", "echo ready; exec sleep 4322"},
		Stdout: os.Stdout, Stderr: os.Stderr,
	}
	_, err := Run(context.Background(), spec)
	fmt.Fprintln(os.Stderr, "Run:", err)
	return 1
}

func copyExecutable(t *testing.T, dst string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(self)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, src); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
