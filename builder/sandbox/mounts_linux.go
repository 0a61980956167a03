package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// mountOverlay mounts lowers (top-most first), upper and work on target.
//
// userxattr makes the kernel write whiteouts and opaque markers the way an
// unpacked layer stores them, and also turns off redirect_dir and metacopy, whose
// upper dirs would not be plain diffs. volatile skips the fsync of every copy-up:
// a step interrupted by a crash is redone anyway.
func mountOverlay(lowers []string, upper, work, target string) error {
	err := overlayFsconfig(lowers, upper, work, target)
	if !errors.Is(err, errNoLowerdirPlus) {
		return err
	}
	return overlayLegacy(lowers, upper, work, target)
}

// errNoLowerdirPlus means the kernel predates "lowerdir+" (Linux 6.8).
var errNoLowerdirPlus = errors.New("overlay lacks lowerdir+")

// overlayFsconfig uses the new mount API, which takes each lower dir as its own
// parameter, so the number of layers is not limited by a page of options.
func overlayFsconfig(lowers []string, upper, work, target string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err == unix.ENOSYS {
		return errNoLowerdirPlus
	}
	if err != nil {
		return fmt.Errorf("opening overlay filesystem: %w", err)
	}
	defer unix.Close(fd)

	for i, l := range lowers {
		err := unix.FsconfigSetString(fd, "lowerdir+", l)
		if i == 0 && err == unix.EINVAL {
			return errNoLowerdirPlus
		}
		if err != nil {
			return fsError(fd, "adding overlay lower dir "+l, err)
		}
	}
	if err := unix.FsconfigSetString(fd, "upperdir", upper); err != nil {
		return fsError(fd, "setting overlay upper dir "+upper, err)
	}
	if err := unix.FsconfigSetString(fd, "workdir", work); err != nil {
		return fsError(fd, "setting overlay work dir "+work, err)
	}
	for _, flag := range []string{"userxattr", "volatile"} {
		if err := unix.FsconfigSetFlag(fd, flag); err != nil {
			return fsError(fd, "setting overlay option "+flag, err)
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return fsError(fd, "creating overlay on "+target, err)
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return fsError(fd, "mounting overlay on "+target, err)
	}
	defer unix.Close(mfd)
	err = unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("attaching overlay on %s: %w", target, err)
	}
	return nil
}

// fsError adds the messages the kernel logged on the filesystem context.
func fsError(fd int, what string, err error) error {
	var msgs []string
	buf := make([]byte, 4096)
	for {
		n, rerr := unix.Read(fd, buf)
		if rerr != nil || n <= 0 {
			break
		}
		msgs = append(msgs, strings.TrimSpace(string(buf[:n])))
	}
	if len(msgs) == 0 {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w (%s)", what, err, strings.Join(msgs, "; "))
}

// overlayLegacy uses mount(2), whose options must fit in a page.
func overlayLegacy(lowers []string, upper, work, target string) error {
	for _, p := range append([]string{upper, work}, lowers...) {
		if strings.ContainsAny(p, ",:") {
			return fmt.Errorf("mounting overlay: path %s has a ',' or ':'", p)
		}
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,userxattr,volatile",
		strings.Join(lowers, ":"), upper, work)
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("mounting overlay of %d layers: options exceed a page "+
			"(Linux 6.8 or later lifts this limit)", len(lowers))
	}
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting overlay on %s: %w", target, err)
	}
	return nil
}

// bindMount binds src recursively on dst, read-only (all of it) when ro is set.
func bindMount(src, dst string, ro bool) error {
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting %s on %s: %w", src, dst, err)
	}
	if ro {
		return setMountAttr(dst, unix.MOUNT_ATTR_RDONLY)
	}
	return nil
}

// setMountAttr sets attributes on the mount at dst and every mount below it.
// Unlike a remount it keeps the flags the kernel locks in a user namespace.
func setMountAttr(dst string, attrs uint64) error {
	attr := &unix.MountAttr{Attr_set: attrs}
	if err := unix.MountSetattr(unix.AT_FDCWD, dst, unix.AT_RECURSIVE, attr); err != nil {
		return fmt.Errorf("setting mount attributes %#x on %s: %w", attrs, dst, err)
	}
	return nil
}

func mountTmpfs(dst string, flags uintptr, data string) error {
	if err := unix.Mount("tmpfs", dst, "tmpfs", flags, data); err != nil {
		return fmt.Errorf("mounting tmpfs on %s: %w", dst, err)
	}
	return nil
}

// mountOptions splits Mount.Options into mount(2) flags (tmpfs), mount attributes
// (bind) and tmpfs data.
func mountOptions(m Mount) (flags uintptr, attrs uint64, data string, err error) {
	var rest []string
	for _, o := range m.Options {
		switch o {
		case "nosuid":
			flags, attrs = flags|unix.MS_NOSUID, attrs|unix.MOUNT_ATTR_NOSUID
		case "nodev":
			flags, attrs = flags|unix.MS_NODEV, attrs|unix.MOUNT_ATTR_NODEV
		case "noexec":
			flags, attrs = flags|unix.MS_NOEXEC, attrs|unix.MOUNT_ATTR_NOEXEC
		default:
			if m.Type != "tmpfs" {
				return 0, 0, "", fmt.Errorf("bind mount on %s: unsupported option %q", m.Target, o)
			}
			rest = append(rest, o)
		}
	}
	if m.ReadOnly {
		flags |= unix.MS_RDONLY
	}
	return flags, attrs, strings.Join(rest, ","), nil
}

// mountProc mounts a procfs of the step's PID namespace and hides or freezes the
// parts through which root could reach the host, as Docker does.
func (r *rootfs) mountProc() error {
	p, err := r.mountpoint("/proc", dirKind)
	if err != nil {
		return err
	}
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := unix.Mount("proc", p, "proc", flags, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	for _, name := range []string{"bus", "fs", "irq", "sys", "sysrq-trigger"} {
		q := filepath.Join(p, name)
		if _, err := os.Lstat(q); err == nil {
			if err := bindMount(q, q, true); err != nil {
				return err
			}
		}
	}
	masked := []string{"kcore", "keys", "latency_stats", "timer_list", "timer_stats",
		"sched_debug", "acpi", "scsi", "asound"}
	for _, name := range masked {
		q := filepath.Join(p, name)
		fi, err := os.Lstat(q)
		switch {
		case err != nil:
			continue
		case fi.IsDir():
			err = mountTmpfs(q, unix.MS_RDONLY, "size=0")
		default:
			err = bindMount("/dev/null", q, false)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
