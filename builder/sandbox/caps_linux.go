package sandbox

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// keepCapability reports whether c is in the set Docker and BuildKit give a build
// step. Every other capability leaves the bounding set, so even real root in a
// step cannot mount, load modules or change the host's clock.
func keepCapability(c int) bool {
	switch c {
	case unix.CAP_CHOWN, unix.CAP_DAC_OVERRIDE, unix.CAP_FOWNER, unix.CAP_FSETID,
		unix.CAP_KILL, unix.CAP_SETGID, unix.CAP_SETUID, unix.CAP_SETPCAP,
		unix.CAP_NET_BIND_SERVICE, unix.CAP_NET_RAW, unix.CAP_SYS_CHROOT,
		unix.CAP_MKNOD, unix.CAP_AUDIT_WRITE, unix.CAP_SETFCAP:
		return true
	}
	return false
}

// dropCapabilities removes from the calling thread's bounding set every capability
// Docker does not grant; a root command exec'd from this thread gets at most the
// rest. The loop ends at the first number the kernel does not know.
func dropCapabilities() error {
	for c := 0; c < 64; c++ {
		if keepCapability(c) {
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if err == unix.EINVAL {
			return nil
		}
		if err != nil {
			return fmt.Errorf("dropping capability %d: %w", c, err)
		}
	}
	return nil
}

// loopbackUp brings up lo in a new network namespace, as Docker's none network has it.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading flags of lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing up lo: %w", err)
	}
	return nil
}
