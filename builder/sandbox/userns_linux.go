package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// The re-executed process finds the read end of the map pipe at the fd number in
// usernsEnv, and the fallback warning, if any, in usernsWarnEnv.
// After the last exec, usernsParentEnv holds the pid of the ibuild outside
// the namespace.
const (
	usernsEnv       = "IBUILD_USERNS_CHILD"
	usernsWarnEnv   = "IBUILD_USERNS_WARNING"
	usernsParentEnv = "IBUILD_USERNS_PARENT"
)

// EnterUserNS moves an unprivileged ibuild into a user namespace where it is uid 0.
//
// As root it returns nil at once. Otherwise it re-executes the running binary with
// the same arguments in new user and mount namespaces, maps container ids 0 to the
// user and 1..N to the user's ranges in /etc/subuid and /etc/subgid (with
// newuidmap and newgidmap), waits for it, and exits with its status: in the
// calling process it never returns nil. The re-executed process waits until the
// maps are written, executes itself once more to gain the namespace's
// capabilities, and then returns nil.
//
// Without a subordinate range or the uidmap tools only the user's own ids are
// mapped (to 0); UserNSWarning then says so and IDMapped reports false.
func EnterUserNS() error {
	if fd, ok := os.LookupEnv(usernsEnv); ok {
		os.Unsetenv(usernsEnv)
		return awaitMaps(fd)
	}
	if ppid, ok := os.LookupEnv(usernsParentEnv); ok {
		os.Unsetenv(usernsParentEnv)
		return dieWithParent(ppid)
	}
	if os.Geteuid() == 0 {
		return nil
	}
	code, err := runInUserNS()
	if err != nil {
		return err
	}
	os.Exit(code)
	return nil
}

// UserNSWarning returns the one warning the caller should show about the user
// namespace EnterUserNS set up (only the user's own id is mapped, and why), or "".
func UserNSWarning() string {
	return os.Getenv(usernsWarnEnv)
}

// IDMapped reports whether ids other than 0 can be used: true for real root and in
// a user namespace with subordinate ids, false with a single-id mapping.
func IDMapped() bool {
	uids, err := readIDMap("/proc/self/uid_map")
	if err != nil {
		return false
	}
	gids, err := readIDMap("/proc/self/gid_map")
	if err != nil {
		return false
	}
	return uids.size() > 1 && gids.size() > 1
}

// awaitMaps blocks until the parent has written the id maps and closed the pipe.
func awaitMaps(fdText string) error {
	fd, err := strconv.Atoi(fdText)
	if err != nil {
		return fmt.Errorf("entering user namespace: bad %s %q", usernsEnv, fdText)
	}
	f := os.NewFile(uintptr(fd), "userns-sync")
	_, err = io.Copy(io.Discard, f)
	f.Close()
	if err != nil {
		return fmt.Errorf("waiting for user namespace maps: %w", err)
	}
	if os.Geteuid() != 0 {
		return errors.New("entering user namespace: uid 0 is not mapped")
	}
	// This process was exec'd before its ids were mapped, so the kernel gave it no
	// capabilities; exec'd again as uid 0 of the namespace, it gets them all.
	env := append(os.Environ(), usernsParentEnv+"="+strconv.Itoa(os.Getppid()))
	if err := syscall.Exec("/proc/self/exe", os.Args, env); err != nil {
		return fmt.Errorf("re-executing in user namespace: %w", err)
	}
	return nil
}

// dieWithParent sets the parent-death signal again in the namespaced ibuild:
// the kernel clears it when a process gains capabilities, as the exec in
// awaitMaps does, and without it a killed ibuild would leave its namespaced
// copy (and the build) running. ppid is the parent it must still have.
func dieWithParent(ppid string) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("setting the parent-death signal: %w", err)
	}
	if strconv.Itoa(os.Getppid()) != ppid {
		return errors.New("entering user namespace: the ibuild that started this one is gone")
	}
	return nil
}

// runInUserNS starts the namespaced copy of ibuild, maps its ids, forwards
// signals to it and returns its exit status.
func runInUserNS() (int, error) {
	m, err := planMapping(os.Getuid(), os.Getgid())
	if err != nil {
		return 0, err
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("creating user namespace pipe: %w", err)
	}
	defer syncW.Close()
	cmd := userNSCommand(m, syncR)

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)
	err = cmd.Start()
	syncR.Close()
	if err != nil {
		return 0, fmt.Errorf("starting ibuild in a user namespace: %w", err)
	}
	if m.newuidmap != "" {
		if err := m.write(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 0, err
		}
	}
	syncW.Close()

	// A terminal's ^C reaches the child directly too; like podman, ibuild
	// forwards anyway so that signals sent to this pid alone are not lost.
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("running ibuild in a user namespace: %w", err)
	}
	return 0, nil
}

// userNSCommand re-executes ibuild with its arguments in new user and mount
// namespaces; the child blocks on syncR until its ids are mapped.
func userNSCommand(m *mapping, syncR *os.File) *exec.Cmd {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.ExtraFiles = []*os.File{syncR}
	cmd.Env = append(os.Environ(), usernsEnv+"=3")
	if m.warning != "" {
		cmd.Env = append(cmd.Env, usernsWarnEnv+"="+m.warning)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	if m.newuidmap == "" {
		// Go writes a single-id map itself, before the child runs.
		cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{HostID: m.uid, Size: 1}}
		cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{HostID: m.gid, Size: 1}}
	}
	return cmd
}

// checkIDs fails clearly when the step's user or groups are not mapped in the
// user namespace ibuild runs in, and notes whether setgroups is allowed.
func checkIDs(cfg *childConfig) error {
	uids, err := readIDMap("/proc/self/uid_map")
	if err != nil {
		return err
	}
	gids, err := readIDMap("/proc/self/gid_map")
	if err != nil {
		return err
	}
	if !uids.contains(cfg.UID) {
		return fmt.Errorf("running as uid %d: not mapped in ibuild's user namespace "+
			"(needs a subordinate uid range in /etc/subuid)", cfg.UID)
	}
	for _, g := range append([]uint32{cfg.GID}, cfg.Groups...) {
		if !gids.contains(g) {
			return fmt.Errorf("running with gid %d: not mapped in ibuild's user namespace "+
				"(needs a subordinate gid range in /etc/subgid)", g)
		}
	}
	b, err := os.ReadFile("/proc/self/setgroups")
	cfg.SetGroups = err != nil || string(b) != "deny\n"
	if !cfg.SetGroups && len(cfg.Groups) > 0 {
		return errors.New("running with supplementary groups: setgroups is denied " +
			"in ibuild's user namespace (no subordinate gid range)")
	}
	return nil
}
