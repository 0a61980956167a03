package testenv

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// UserEnv names the unprivileged test user; [DefaultUser] when unset.
const UserEnv = "IBUILD_TEST_USER"

// DefaultUser is the unprivileged test user `make test` creates as root.
const DefaultUser = "ibuildtest"

// Unprivileged returns the name of the user the rootless tests run ibuild
// as: IBUILD_TEST_USER, else "ibuildtest" when the tests run as root, else
// the current user. The user must exist, must not be root, and must have a
// range in /etc/subuid and /etc/subgid; running as another user needs root.
// When one of these is missing, Unprivileged calls [Require].
func Unprivileged(t testing.TB) string {
	t.Helper()
	name := os.Getenv(UserEnv)
	if name == "" && os.Geteuid() == 0 {
		name = DefaultUser
	}
	var u *user.User
	var err error
	if name == "" {
		u, err = user.LookupId(strconv.Itoa(os.Geteuid()))
	} else {
		u, err = user.Lookup(name)
	}
	if err != nil {
		Require(t, fmt.Sprintf("unprivileged test user %q (`make test` as root creates it)", name))
		return ""
	}
	name = u.Username
	if u.Uid == "0" {
		t.Fatalf("%s=%s: the rootless tests need a user other than root", UserEnv, name)
	}
	for _, file := range []string{"/etc/subuid", "/etc/subgid"} {
		if ok, err := hasSubIDs(file, u); err != nil || !ok {
			Require(t, fmt.Sprintf("a range for %s in %s (`make test` as root adds it)",
				name, file))
			return ""
		}
	}
	if u.Uid != strconv.Itoa(os.Geteuid()) && os.Geteuid() != 0 {
		Require(t, fmt.Sprintf("root, to run commands as %s (or unset %s)", name, UserEnv))
	}
	return name
}

// hasSubIDs reports whether file (/etc/subuid or /etc/subgid) has a range
// for u, listed by name or by numeric id.
func hasSubIDs(file string, u *user.User) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Split(strings.TrimSpace(s.Text()), ":")
		if len(fields) == 3 && (fields[0] == u.Username || fields[0] == u.Uid) &&
			fields[2] != "0" {
			return true, nil
		}
	}
	return false, s.Err()
}

// account is a user's numeric identity.
type account struct {
	uid, gid uint32
	groups   []uint32
	home     string
}

// lookupAccount returns the ids, supplementary groups and home of name.
func lookupAccount(name string) (account, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return account{}, err
	}
	a := account{home: u.HomeDir}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	a.uid, a.gid = uint32(uid), uint32(gid)
	gids, err := u.GroupIds()
	if err != nil {
		return account{}, fmt.Errorf("groups of user %s: %w", name, err)
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			a.groups = append(a.groups, uint32(n))
		}
	}
	return a, nil
}

// RunAs prepares cmd to run as the user name (from [Unprivileged]); the
// caller then starts it. When name is not the current user it sets
// SysProcAttr.Credential to the user's uid, gid and supplementary groups,
// which needs root. It sets cmd.Env to cmd.Env (or this process's
// environment) with HOME, USER and LOGNAME set for the user and every XDG_*
// variable removed; to change one, append to cmd.Env after RunAs (the last
// value wins). Set cmd.Dir to a directory the user can enter, such as a
// [UserDir].
func RunAs(t testing.TB, name string, cmd *exec.Cmd) {
	t.Helper()
	a, err := lookupAccount(name)
	if err != nil {
		t.Fatalf("running as %s: %v", name, err)
	}
	if int(a.uid) != os.Geteuid() {
		if os.Geteuid() != 0 {
			Require(t, "root, to run commands as "+name)
		}
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{
			Uid: a.uid, Gid: a.gid, Groups: a.groups,
		}
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = withoutNames(env, "HOME", "USER", "LOGNAME")
	env = withoutPrefix(env, "XDG_")
	cmd.Env = append(env, "HOME="+a.home, "USER="+name, "LOGNAME="+name)
}

// withoutNames returns env without the variables called one of names.
func withoutNames(env []string, names ...string) []string {
	var out []string
next:
	for _, kv := range env {
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// UserDir returns a new empty directory owned by the user name, mode 0755,
// in TMPDIR, for the user's store, build context and outputs; every parent
// lets other users through. It is removed when the test ends.
func UserDir(t testing.TB, name string) string {
	t.Helper()
	a, err := lookupAccount(name)
	if err != nil {
		t.Fatalf("making a directory for %s: %v", name, err)
	}
	dir, err := os.MkdirTemp("", "ibuild-user-")
	if err != nil {
		t.Fatalf("making a directory for %s: %v", name, err)
	}
	t.Cleanup(func() { removeUserDir(t, dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("making a directory for %s: %v", name, err)
	}
	if int(a.uid) != os.Geteuid() {
		if err := os.Chown(dir, int(a.uid), int(a.gid)); err != nil {
			t.Fatalf("giving %s to %s: %v", dir, name, err)
		}
	}
	if err := checkReachable(dir); err != nil {
		t.Fatalf("making a directory for %s: %v", name, err)
	}
	return dir
}

// removeUserDir removes dir. Files that a rootless build made belong to
// subordinate ids, which only root or the user's own namespace may remove;
// when not root, it retries inside such a namespace (util-linux unshare).
func removeUserDir(t testing.TB, dir string) {
	err := os.RemoveAll(dir)
	if err == nil || os.Geteuid() == 0 {
		if err != nil {
			t.Errorf("removing %s: %v", dir, err)
		}
		return
	}
	cmd := exec.Command("unshare", "--map-root-user", "--map-auto", "rm", "-rf", dir)
	if out, uerr := cmd.CombinedOutput(); uerr != nil {
		t.Logf("leaving %s behind: %v; unshare: %v: %s", dir, err, uerr, out)
	}
}
