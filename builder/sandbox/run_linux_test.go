package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestRunFilesystemChanges(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	spec := testSpec(t, `set -e
		echo new > /newfile
		chown 123:456 /newfile
		chmod 0600 /newfile
		echo more >> /keep/modified
		rm /keep/deleted
		rm -rf /dir2file && echo x > /dir2file
		rm /file2dir && mkdir /file2dir
		rm -rf /opaque && mkdir /opaque && touch /opaque/fresh
		ln -s newfile /link`)
	lower := spec.Lowers[0]
	for name, content := range map[string]string{
		"keep/modified": "old\n", "keep/deleted": "gone\n", "dir2file/inner": "i\n",
		"file2dir": "f\n", "opaque/a": "a\n", "opaque/sub/b": "b\n",
	} {
		p := filepath.Join(lower, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if _, created, err := run(t, spec); err != nil {
		t.Fatalf("Run: %v", err)
	} else if diff := cmp.Diff([]string{"proc", "dev", "sys", "etc/hosts", "etc/resolv.conf"},
		created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}

	up := func(name string) string { return filepath.Join(spec.Upper, name) }
	checkFile(t, up("newfile"), "new\n", 0o600, 123, 456)
	checkFile(t, up("keep/modified"), "old\nmore\n", 0o644, 0, 0)
	checkFile(t, up("dir2file"), "x\n", 0o644, 0, 0)
	checkWhiteout(t, up("keep/deleted"))
	if fi, err := os.Lstat(up("file2dir")); err != nil || !fi.IsDir() {
		t.Errorf("file2dir in upper: want a directory, got %v, %v", fi, err)
	}
	if got := opaque(up("opaque")); got != "y" {
		t.Errorf("opaque dir: user.overlay.opaque = %q, want \"y\"", got)
	}
	if _, err := os.Lstat(up("opaque/a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("opaque/a in upper: want nothing, got %v", err)
	}
	if got, err := os.Readlink(up("link")); err != nil || got != "newfile" {
		t.Errorf("link: got %q, %v", got, err)
	}
	if _, err := os.Lstat(up("etc/hosts")); err != nil {
		t.Errorf("etc/hosts mount point missing from upper: %v", err)
	}
}

func checkFile(t *testing.T, p, content string, perm os.FileMode, uid, gid uint32) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Errorf("reading upper file: %v", err)
		return
	}
	if string(b) != content {
		t.Errorf("%s: content %q, want %q", p, b, content)
	}
	fi, _ := os.Lstat(p)
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != perm || st.Uid != uid || st.Gid != gid {
		t.Errorf("%s: mode %v owner %d:%d, want %v %d:%d", p, fi.Mode().Perm(), st.Uid, st.Gid,
			perm, uid, gid)
	}
}

func checkWhiteout(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Errorf("whiteout %s: %v", p, err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode()&os.ModeCharDevice == 0 || st.Rdev != 0 {
		t.Errorf("whiteout %s: mode %v rdev %d, want char device 0/0", p, fi.Mode(), st.Rdev)
	}
}

func opaque(dir string) string {
	buf := make([]byte, 16)
	n, err := unix.Lgetxattr(dir, "user.overlay.opaque", buf)
	if err != nil {
		return err.Error()
	}
	return string(buf[:n])
}

func TestRunProcessEnvironment(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	tests := []struct {
		name   string
		script string
		modify func(*Spec)
		want   string
	}{
		{"env", `echo "$FOO $PATH"`, func(s *Spec) { s.Env = []string{"FOO=bar baz"} },
			"bar baz " + DefaultPath},
		{"cwd created", `pwd && stat -c %u:%g:%a /work/dir`,
			func(s *Spec) { s.Cwd = "/work/dir" }, "/work/dir\n0:0:755"},
		{"user", `id -u; id -g; id -G`, func(s *Spec) {
			s.UID, s.GID, s.AdditionalGIDs = 1000, 1000, []uint32{5, 65534}
		}, "1000\n1000\n1000 5 65534"},
		{"root user", `id -u; id -G`, nil, "0\n0"},
		{"default hostname", `hostname`, nil, DefaultHostname},
		{"hostname", `hostname; grep -c myhost /etc/hosts`,
			func(s *Spec) { s.Hostname = "myhost" }, "myhost\n1"},
		{"network none",
			`grep : /proc/net/dev | cut -d: -f1 | tr -d ' '; ip link show lo | grep -c UP`,
			func(s *Spec) { s.Network = NetworkNone }, "lo\n1"},
		{"pid 1 is the sandbox", `tr '\0' ' ' < /proc/1/cmdline`, nil, "ibuild-sandbox"},
		{"capabilities", `grep CapBnd /proc/self/status`, nil, "CapBnd:\t00000000a80425fb"},
		{"dev", `ls /dev | tr '\n' ' '; echo hi > /dev/null; test -c /dev/pts/ptmx && echo ok`,
			nil, "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero ok"},
		{"proc sys read-only", `echo 1 > /proc/sys/kernel/ns_last_pid || echo refused`, nil,
			"refused"},
		{"sys read-only", `touch /sys/x || echo refused`, nil, "refused"},
		{"resolv.conf read-only", `echo x >> /etc/resolv.conf || echo refused`, nil, "refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := testSpec(t, tt.script)
			if tt.modify != nil {
				tt.modify(&spec)
			}
			out, _, err := run(t, spec)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := strings.TrimSpace(out); got != tt.want {
				t.Errorf("output %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRunExitStatus(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	tests := []struct {
		name   string
		script string
		want   int
	}{
		{"exit 3", "exit 3", 3},
		{"killed", "kill -9 $$", 137},
		{"orphan left running", "sleep 1000 & exit 4", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, testSpec(t, tt.script))
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Code != tt.want {
				t.Fatalf("Run: %v, want exit code %d", err, tt.want)
			}
			if want := "exit code: "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q does not start with %q", err, want)
			}
		})
	}
}

func TestRunCommandNotFound(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	for _, name := range []string{"no-such-command", "/bin/no-such-command"} {
		spec := testSpec(t, "")
		spec.Args = []string{name, "arg"}
		_, _, err := run(t, spec)
		if !errors.Is(err, ErrCommandNotFound) || !strings.Contains(err.Error(), name) {
			t.Errorf("Run %s: got %v, want ErrCommandNotFound naming it", name, err)
		}
	}
}

func TestRunCancel(t *testing.T) {
	needRoot(t)
	noMountLeak(t)
	spec := testSpec(t, "echo ready; exec sleep 4321")
	ready := make(chan struct{})
	spec.Stdout = writerFunc(func(p []byte) (int, error) {
		if strings.Contains(string(p), "ready") {
			close(ready)
		}
		return len(p), nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, spec)
		done <- err
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run ended early: %v", err)
	}
	start := time.Now()
	cancel()
	err := <-done
	t.Logf("Run returned %v after cancel", time.Since(start))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v, want context.Canceled", err)
	}
	if processWith("sleep", "4321") {
		t.Errorf("sleep 4321 still runs after Run returned")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
