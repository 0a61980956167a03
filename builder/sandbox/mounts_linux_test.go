package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRunMounts(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	host := t.TempDir()
	roDir, rwDir := filepath.Join(host, "ro"), filepath.Join(host, "rw")
	file := filepath.Join(host, "file")
	for _, d := range []string{roDir, rwDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(file, []byte("content\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	spec := testSpec(t, `set -e
		touch /mnt/ro/x 2>/dev/null && echo ro-writable
		echo hello > /mnt/rw/y
		cat /etc/app.conf
		echo tmp > /cache/z && cat /cache/z
		grep -q ' /cache tmpfs .*noexec' /proc/mounts && echo noexec`)
	spec.Mounts = []Mount{
		{Type: "bind", Source: roDir, Target: "/mnt/ro", ReadOnly: true},
		{Type: "bind", Source: rwDir, Target: "/mnt/rw"},
		{Type: "bind", Source: file, Target: "/etc/app.conf", ReadOnly: true},
		{Type: "tmpfs", Target: "/cache", Options: []string{"size=1m", "noexec"}},
	}
	out, created, err := run(t, spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "content\ntmp\nnoexec\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	if b, err := os.ReadFile(filepath.Join(rwDir, "y")); err != nil || string(b) != "hello\n" {
		t.Errorf("file written to the rw bind: %q, %v", b, err)
	}
	want := []string{"proc", "dev", "sys", "etc/hosts", "etc/resolv.conf",
		"mnt", "mnt/ro", "mnt/rw", "etc/app.conf", "cache"}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if _, err := os.Lstat(filepath.Join(spec.Upper, "cache/z")); err == nil {
		t.Errorf("a file written to the tmpfs reached the upper dir")
	}
}

// TestRunScratch runs with no lower layer: every mount point is created.
func TestRunScratch(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	spec := testSpec(t, "")
	spec.Lowers = nil
	spec.Mounts = []Mount{
		{Type: "bind", Source: "/bin/busybox", Target: "/busybox", ReadOnly: true},
	}
	spec.Args = []string{"/busybox", "sh", "-c",
		"/busybox ls / | /busybox tr '\\n' ' '; /busybox echo hi > /f"}
	out, created, err := run(t, spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "busybox dev etc proc sys "; out != want {
		t.Errorf("root listing %q, want %q", out, want)
	}
	want := []string{"proc", "dev", "sys", "etc", "etc/hosts", "etc/resolv.conf", "busybox"}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if b, err := os.ReadFile(filepath.Join(spec.Upper, "f")); err != nil || string(b) != "hi\n" {
		t.Errorf("upper f: %q, %v", b, err)
	}
}

// TestRunManyLowers stacks more layers than a page of mount options can name.
func TestRunManyLowers(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	spec := testSpec(t, "cat /x; cat /l0 /l149")
	dir := t.TempDir()
	var lowers []string
	for i := 0; i < 150; i++ {
		l := filepath.Join(dir, fmt.Sprintf("layer-with-a-rather-long-name-%03d", i))
		if err := os.Mkdir(l, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"x", fmt.Sprintf("l%d", i)} {
			content := fmt.Sprintf("%d\n", i)
			if err := os.WriteFile(filepath.Join(l, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		lowers = append(lowers, l)
	}
	spec.Lowers = append(lowers, spec.Lowers...)
	if n := len(strings.Join(spec.Lowers, ":")); n <= os.Getpagesize() {
		t.Fatalf("lowerdir option is only %d bytes", n)
	}
	out, _, err := run(t, spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "0\n0\n149\n"; out != want {
		t.Errorf("output %q, want %q (top-most layer first)", out, want)
	}
}

// TestRunSymlinkedEtc checks that mount points reached through the image's
// symlinks stay inside the root, even for absolute and climbing links.
func TestRunSymlinkedEtc(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	spec := testSpec(t, "cat /etc/hosts | grep -c localhost; readlink /etc/resolv.conf")
	etc := filepath.Join(spec.Lowers[0], "etc")
	if err := os.Symlink("/run/resolv.conf", filepath.Join(etc, "resolv.conf")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../tmp/hosts", filepath.Join(etc, "hosts")); err != nil {
		t.Fatal(err)
	}
	out, created, err := run(t, spec)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if want := "2\n/run/resolv.conf\n"; out != want {
		t.Errorf("output %q, want %q", out, want)
	}
	want := []string{"proc", "dev", "sys", "tmp/hosts", "run", "run/resolv.conf"}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
}

// TestRunOverhead logs the cost of one step running `true`.
func TestRunOverhead(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	spec := testSpec(t, "")
	spec.Args = []string{"true"}
	const n = 20
	var total time.Duration
	for i := 0; i < n; i++ {
		s := spec
		s.Upper = filepath.Join(t.TempDir(), "upper")
		s.Work = filepath.Join(t.TempDir(), "work")
		start := time.Now()
		if _, err := Run(context.Background(), s); err != nil {
			t.Fatalf("Run: %v", err)
		}
		total += time.Since(start)
	}
	t.Logf("one step running true takes %v on average over %d runs", total/n, n)
}
