package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRunAs(t *testing.T) {
	name := Unprivileged(t)
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := UserDir(t, name)

	script := `id -u; id -g; echo "$HOME $USER ${XDG_DATA_HOME-unset}"; touch f`
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME=/root/.local/share", "HOME=/root")
	RunAs(t, name, cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := fmt.Sprintf("%s\n%s\n%s %s unset\n", u.Uid, u.Gid, u.HomeDir, name)
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
	if uid := owner(t, filepath.Join(dir, "f")); fmt.Sprint(uid) != u.Uid {
		t.Errorf("file made by the user belongs to uid %d, want %s", uid, u.Uid)
	}
}

func TestUserDir(t *testing.T) {
	name := Unprivileged(t)
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := UserDir(t, name)
	if uid := owner(t, dir); fmt.Sprint(uid) != u.Uid {
		t.Errorf("%s belongs to uid %d, want %s", dir, uid, u.Uid)
	}
	if err := checkReachable(dir); err != nil {
		t.Error(err)
	}
}

func TestUserDirCleanup(t *testing.T) {
	var dir string
	t.Run("use", func(t *testing.T) {
		name := Unprivileged(t)
		dir = UserDir(t, name)
		// Leave what a rootless build leaves: files of subordinate ids in a
		// directory nobody may write to.
		script := "mkdir d && touch d/f && chown -R 5:5 d && chmod 0500 d"
		cmd := exec.Command("unshare", "--map-root-user", "--map-auto", "sh", "-c", script)
		cmd.Dir = dir
		RunAs(t, name, cmd)
		if out, err := cmd.CombinedOutput(); err != nil {
			Require(t, fmt.Sprintf("unshare --map-auto (util-linux 2.38+) for %s: %v: %s",
				name, err, out))
		}
		if uid := owner(t, filepath.Join(dir, "d")); fmt.Sprint(uid) == "5" {
			t.Fatal("unshare did not map ids: d belongs to uid 5")
		}
	})
	if _, err := os.Stat(dir); dir != "" && !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s is still there after the test: %v", dir, err)
	}
}

func TestHasSubIDs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "subuid")
	writeFile(t, file, "other:100000:65536\n2000:165536:65536\nempty:231072:0\n")
	tests := []struct {
		name, uid string
		want      bool
	}{
		{"other", "1999", true},
		{"byid", "2000", true},
		{"empty", "2001", false},
		{"absent", "2002", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := hasSubIDs(file, &user.User{Username: tt.name, Uid: tt.uid})
			if err != nil || got != tt.want {
				t.Errorf("hasSubIDs = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestRequire(t *testing.T) {
	for _, env := range []string{"", "1"} {
		t.Run("IBUILD_TEST_REQUIRE="+env, func(t *testing.T) {
			t.Setenv(RequireEnv, env)
			r := &recorder{}
			Require(r, "a thing")
			got, other := r.skipped, r.failed
			if env == "1" {
				got, other = r.failed, r.skipped
			}
			if !strings.Contains(got, "a thing") || !strings.Contains(got, "make test") ||
				other != "" {
				t.Errorf("skipped %q, failed %q", r.skipped, r.failed)
			}
		})
	}
}

// recorder is a testing.TB that records Skipf and Fatalf instead of
// stopping.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skipf(format string, args ...any) { r.skipped = fmt.Sprintf(format, args...) }

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func owner(t *testing.T, path string) uint32 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Uid
}
