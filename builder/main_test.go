package builder

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ibuild/ibuild/builder/sandbox"
)

// privateMountsEnv marks the copy of the test binary that runs in its own
// mount namespace.
const privateMountsEnv = "IBUILD_TEST_MOUNTNS"

// TestMain lets the test binary serve as the sandbox's child process: RUN
// steps re-execute the running binary, which must then do the child's work
// instead of running the tests again. As root, the tests run in a mount
// namespace of their own, as ibuild does, so that the read-only views a
// build mounts never reach the host's mount table.
func TestMain(m *testing.M) {
	sandbox.Main()
	if os.Geteuid() == 0 && os.Getenv(privateMountsEnv) == "" {
		os.Exit(rerunInMountNS())
	}
	if os.Getenv(privateMountsEnv) != "" {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			fmt.Fprintln(os.Stderr, "making mounts private:", err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func rerunInMountNS() int {
	cmd := exec.Command("/proc/self/exe", os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), privateMountsEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS,
		Pdeathsig: syscall.SIGKILL}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "running the tests in a mount namespace:", err)
		return 1
	}
	return 0
}
