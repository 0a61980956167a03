package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/ibuild/ibuild/builder/sandbox"
)

// hostUIDEnv carries the uid ibuild was started as into the namespaces it
// re-executes itself in, so that defaults (the store) stay the user's.
const hostUIDEnv = "IBUILD_HOST_UID"

// mountNSEnv marks the copy of ibuild that runs in its own mount namespace.
const mountNSEnv = "IBUILD_MOUNTNS"

// enterNamespaces makes the rest of the command run in a mount namespace of
// its own (and, without root, in a user namespace), so that every mount a
// build makes goes away with it, even when the process is killed.
func enterNamespaces() ([]string, error) {
	if os.Getenv(hostUIDEnv) == "" {
		os.Setenv(hostUIDEnv, strconv.Itoa(os.Getuid()))
	}
	var warnings []string
	if os.Getenv(hostUIDEnv) != "0" {
		if err := sandbox.EnterUserNS(); err != nil {
			return nil, fmt.Errorf("entering a user namespace: %w", err)
		}
		if w := sandbox.UserNSWarning(); w != "" {
			warnings = append(warnings, w)
		}
	} else if os.Getenv(mountNSEnv) == "" {
		os.Exit(reexecInMountNS())
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("making mounts private: %w", err)
	}
	return warnings, nil
}

// reexecInMountNS runs this same command line in a new mount namespace and
// returns its exit code.
func reexecInMountNS() int {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), mountNSEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS,
		Pdeathsig: syscall.SIGKILL}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "ERROR: starting ibuild in a mount namespace:", err)
		return exitFailed
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err := cmd.Wait()
	signal.Stop(sigs)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		return exitFailed
	}
	return 0
}
