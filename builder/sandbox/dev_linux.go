package sandbox

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// mountDev gives the step a small /dev of its own: a tmpfs with the host's safe
// character devices bound in, a private devpts, /dev/shm and the usual symlinks.
// Binding rather than mknod works in a user namespace too.
func (r *rootfs) mountDev() error {
	dev, err := r.mountpoint("/dev", dirKind)
	if err != nil {
		return err
	}
	err = mountTmpfs(dev, unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k")
	if err != nil {
		return err
	}
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p := filepath.Join(dev, name)
		if err := createEmpty(p); err != nil {
			return fmt.Errorf("creating /dev/%s: %w", name, err)
		}
		if err := unix.Mount("/dev/"+name, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mounting /dev/%s: %w", name, err)
		}
	}

	if err := mountDevpts(filepath.Join(dev, "pts")); err != nil {
		return err
	}
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o755); err != nil {
		return fmt.Errorf("creating /dev/shm: %w", err)
	}
	err = mountTmpfs(shm, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=65536k")
	if err != nil {
		return err
	}

	links := []struct{ name, target string }{
		{"fd", "/proc/self/fd"},
		{"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"},
		{"ptmx", "pts/ptmx"},
	}
	for _, l := range links {
		if err := os.Symlink(l.target, filepath.Join(dev, l.name)); err != nil {
			return fmt.Errorf("creating /dev/%s: %w", l.name, err)
		}
	}
	return nil
}

// mountDevpts mounts a new devpts instance. Group tty (5) owns the terminals
// when it is mapped; with a single-id user namespace it is not, and the kernel
// refuses the gid option.
func mountDevpts(pts string) error {
	if err := os.Mkdir(pts, 0o755); err != nil {
		return fmt.Errorf("creating /dev/pts: %w", err)
	}
	const flags = unix.MS_NOSUID | unix.MS_NOEXEC
	opts := "newinstance,ptmxmode=0666,mode=0620"
	err := unix.Mount("devpts", pts, "devpts", flags, opts+",gid=5")
	if err == unix.EINVAL {
		err = unix.Mount("devpts", pts, "devpts", flags, opts)
	}
	if err != nil {
		return fmt.Errorf("mounting /dev/pts: %w", err)
	}
	return nil
}
