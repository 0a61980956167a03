package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// setupFailed is the child's exit status when the command never started; the
// parent ignores it and reports the error the child sent.
const setupFailed = 125

// Main does the sandbox child's work and exits when this process was started by
// Run; otherwise it returns at once. Call it first thing in main, before flag
// parsing and before EnterUserNS.
func Main() {
	if os.Getenv(childEnv) != "1" {
		return
	}
	os.Exit(childMain())
}

// childMain runs as PID 1 of the step's namespaces: it builds the root, starts the
// command, reaps every process, and returns the command's exit status.
func childMain() int {
	// The capability bounding set is per thread and the command is forked from
	// this thread, so pin it.
	runtime.LockOSThread()
	unix.CloseOnExec(configFD)
	unix.CloseOnExec(reportFD)
	report := os.NewFile(reportFD, "sandbox-report")

	var rep childReport
	cfg, err := readConfig()
	pid := 0
	if err == nil {
		rep.Created, pid, err = startStep(cfg)
	}
	if err != nil {
		rep.Err = err.Error()
		var nf *notFoundError
		rep.NotFound = errors.As(err, &nf)
	}
	b, _ := json.Marshal(rep)
	_, _ = report.Write(b)
	report.Close()
	if err != nil {
		return setupFailed
	}
	return reap(pid)
}

func readConfig() (*childConfig, error) {
	f := os.NewFile(configFD, "sandbox-config")
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading sandbox config: %w", err)
	}
	var cfg childConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("decoding sandbox config: %w", err)
	}
	return &cfg, nil
}

// startStep prepares the root, enters it and starts the command.
func startStep(cfg *childConfig) (created []string, pid int, err error) {
	// Files the step creates get Docker's permissions whatever ibuild's umask is.
	unix.Umask(0o022)
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, 0, fmt.Errorf("making mounts private: %w", err)
	}
	r, err := buildRoot(cfg)
	if r != nil {
		created = r.created
	}
	if err != nil {
		return created, 0, err
	}
	if err := enterRoot(r.dir, cfg); err != nil {
		return created, 0, err
	}
	pid, err = startCommand(cfg)
	return created, pid, err
}

// enterRoot makes dir the root of the mount namespace and sets up the rest of the
// step's environment that needs no paths outside it.
func enterRoot(dir string, cfg *childConfig) error {
	if err := unix.Chdir(dir); err != nil {
		return fmt.Errorf("entering root %s: %w", dir, err)
	}
	// pivot_root(".", ".") stacks the old root on the new one; detaching it
	// leaves only the new root, with no directory needed for the old one.
	// TODO: pivot_root fails (EINVAL) when ibuild's own root is an initramfs;
	// there is no MS_MOVE and chroot fallback yet.
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivoting root to %s: %w", dir, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching old root: %w", err)
	}
	if err := unix.Chdir(cfg.Cwd); err != nil {
		return fmt.Errorf("entering working directory %s: %w", cfg.Cwd, err)
	}
	if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
		return fmt.Errorf("setting host name %q: %w", cfg.Hostname, err)
	}
	if cfg.NewNet {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	return nil
}

// startCommand forks and execs the command as the step's user; the child
// inherits the working directory, so a Cwd the user cannot enter still works.
func startCommand(cfg *childConfig) (int, error) {
	name := cfg.Args[0]
	file, err := lookPath(name, envValue(cfg.Env, "PATH"))
	if err != nil {
		return 0, err
	}
	// TODO: no seccomp filter and no cgroup limits yet: a step is contained by its
	// namespaces and Docker's capability set only.
	if err := dropCapabilities(); err != nil {
		return 0, err
	}
	groups := make([]uint32, len(cfg.Groups))
	copy(groups, cfg.Groups)
	attr := &syscall.ProcAttr{
		Env:   cfg.Env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: cfg.UID, Gid: cfg.GID, Groups: groups, NoSetGroups: !cfg.SetGroups,
		}},
	}
	pid, err := syscall.ForkExec(file, cfg.Args, attr)
	if err != nil {
		return 0, fmt.Errorf("starting %s: %w", name, err)
	}
	return pid, nil
}

// reap waits for every process reparented to this PID 1 until the command itself
// exits, and returns its status the way a shell reports it.
func reap(pid int) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return setupFailed
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// notFoundError says that the command is not in PATH.
type notFoundError struct{ name, path string }

func (e *notFoundError) Error() string {
	if strings.Contains(e.name, "/") {
		return fmt.Sprintf("running %q: not an executable file", e.name)
	}
	return fmt.Sprintf("looking up %q in PATH %s", e.name, e.path)
}

// lookPath finds name in the colon-separated list dirs inside the new root.
func lookPath(name, dirs string) (string, error) {
	if strings.Contains(name, "/") {
		if isExecutable(name) {
			return name, nil
		}
		return "", &notFoundError{name: name}
	}
	for _, dir := range strings.Split(dirs, ":") {
		if dir == "" {
			dir = "."
		}
		if p := dir + "/" + name; isExecutable(p) {
			return p, nil
		}
	}
	return "", &notFoundError{name: name, path: dirs}
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}
