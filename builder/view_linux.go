package builder

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ibuild/ibuild/layers"
)

// view mounts a read-only overlay of dirs (top-most first) and returns the
// mount point. ibuild runs in a mount namespace of its own, so a mount that
// a killed build leaves behind goes away with the namespace.
func (m *mountSet) view(dirs []string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	empty, err := m.emptyDir()
	if err != nil {
		return "", err
	}
	if len(dirs) == 0 {
		return empty, nil
	}
	if len(dirs) == 1 {
		// overlay needs two lower layers to mount without an upper one.
		dirs = append(dirs, empty)
	}
	target, err := os.MkdirTemp(m.tmp, "view-")
	if err != nil {
		return "", err
	}
	if err := mountOverlay(dirs, target); err != nil {
		os.Remove(target)
		return "", err
	}
	m.paths = append(m.paths, target)
	return target, nil
}

// mountOverlay mounts a read-only overlay with the new mount API, which takes
// one lower directory at a time and so has no limit on the option length;
// older kernels get the classic mount(2) call.
func mountOverlay(lowers []string, target string) error {
	err := fsmountOverlay(lowers, target)
	if err == nil {
		return nil
	}
	opts := "lowerdir=" + strings.Join(lowers, ":") + ",userxattr"
	if len(opts) >= os.Getpagesize() {
		return fmt.Errorf("mounting overlay of %d layers: %w", len(lowers), err)
	}
	if err2 := unix.Mount("overlay", target, "overlay", unix.MS_RDONLY, opts); err2 != nil {
		return fmt.Errorf("mounting overlay on %s: %w", target, err2)
	}
	return nil
}

func fsmountOverlay(lowers []string, target string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, l := range lowers {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			return fmt.Errorf("adding lower dir %s: %w", l, err)
		}
	}
	if err := unix.FsconfigSetFlag(fd, "userxattr"); err != nil {
		return err
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return err
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_RDONLY)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	return unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

// copyView is view for the copy mode: the layers are materialised into a
// directory (once per set of layers) instead of mounted.
func (m *mountSet) copyView(dirs []string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := strings.Join(dirs, "\x00")
	if v, ok := m.copies[key]; ok {
		return v, nil
	}
	tmp, err := os.MkdirTemp(m.tmp, "view-")
	if err != nil {
		return "", err
	}
	bottomFirst := make([]string, 0, len(dirs))
	for i := len(dirs) - 1; i >= 0; i-- {
		bottomFirst = append(bottomFirst, dirs[i])
	}
	root := filepath.Join(tmp, "root")
	if err := layers.Materialize(root, bottomFirst...); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("copying the stage's filesystem: %w", err)
	}
	if m.copies == nil {
		m.copies = map[string]string{}
	}
	m.copies[key] = root
	m.copyDirs = append(m.copyDirs, tmp)
	return root, nil
}

// unmountAll removes every view this set mounted.
func (m *mountSet) unmountAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range m.paths {
		_ = unix.Unmount(p, unix.MNT_DETACH)
		_ = os.Remove(p)
	}
	m.paths = nil
	for _, d := range m.copyDirs {
		_ = os.RemoveAll(d)
	}
	m.copyDirs, m.copies = nil, nil
	if m.empty != "" {
		_ = os.Remove(m.empty)
		m.empty = ""
	}
}

// getxattr returns the value of an extended attribute of path ("" if unset).
func getxattr(path, name string) (string, error) {
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(path, name, buf)
	if err != nil {
		return "", err
	}
	return string(buf[:n]), nil
}
