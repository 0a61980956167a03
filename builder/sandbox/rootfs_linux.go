package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// rootfs is the step's root while the child sets it up: the merged overlay
// directory, still seen through the host's paths.
type rootfs struct {
	dir string
	// created lists mount points made in the merged tree, relative, parents first.
	created []string
}

// buildRoot mounts the overlay under cfg.Work and everything the step sees in it.
func buildRoot(cfg *childConfig) (*rootfs, error) {
	dir := filepath.Join(cfg.Work, "root")
	ovlWork := filepath.Join(cfg.Work, "overlay")
	dirs := []string{cfg.Upper, dir, ovlWork}
	lowers := cfg.Lowers
	if len(lowers) == 0 {
		// Overlay needs a lower layer; an empty one stands for FROM scratch.
		lowers = []string{filepath.Join(cfg.Work, "empty")}
		dirs = append(dirs, lowers[0])
	}
	if cfg.RootDir != "" {
		if err := bindRoot(cfg.RootDir, dir); err != nil {
			return nil, err
		}
	} else {
		// A volatile overlay leaves a marker that refuses its work dir a second time.
		if err := os.RemoveAll(ovlWork); err != nil {
			return nil, fmt.Errorf("clearing overlay work dir: %w", err)
		}
		for _, d := range dirs {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return nil, fmt.Errorf("creating sandbox directory: %w", err)
			}
		}
		if err := mountOverlay(lowers, cfg.Upper, ovlWork, dir); err != nil {
			return nil, err
		}
	}

	r := &rootfs{dir: dir}
	if err := r.mountSystem(cfg); err != nil {
		return r, err
	}
	for _, m := range cfg.Mounts {
		if err := r.mountUser(m); err != nil {
			return r, err
		}
	}
	// The working directory stays in the layer, as with Docker: not recorded.
	if _, _, err := r.mkpath(cfg.Cwd, dirKind); err != nil {
		return r, fmt.Errorf("creating working directory %s: %w", cfg.Cwd, err)
	}
	return r, nil
}

// mountSystem mounts /proc, /dev, /sys, /etc/hosts and /etc/resolv.conf.
func (r *rootfs) mountSystem(cfg *childConfig) error {
	if err := r.mountProc(); err != nil {
		return err
	}
	if err := r.mountDev(); err != nil {
		return err
	}
	sys, err := r.mountpoint("/sys", dirKind)
	if err != nil {
		return err
	}
	// A fresh sysfs needs a network namespace of our own; a read-only view of the
	// host's works in every case.
	// TODO: with NetworkNone, /sys/class/net still lists the host's interfaces.
	if err := bindMount("/sys", sys, true); err != nil {
		return err
	}
	for _, f := range []struct{ name, content string }{
		{"hosts", cfg.Hosts}, {"resolv.conf", cfg.Resolv},
	} {
		src := filepath.Join(cfg.Work, f.name)
		if err := os.WriteFile(src, []byte(f.content), 0o644); err != nil {
			return fmt.Errorf("writing /etc/%s: %w", f.name, err)
		}
		dst, err := r.mountpoint("/etc/"+f.name, fileKind)
		if err != nil {
			return err
		}
		if err := bindMount(src, dst, true); err != nil {
			return err
		}
	}
	return nil
}

// mountUser applies one of Spec.Mounts.
func (r *rootfs) mountUser(m Mount) error {
	flags, attrs, data, err := mountOptions(m)
	if err != nil {
		return err
	}
	if m.Type == "tmpfs" {
		dst, err := r.mountpoint(m.Target, dirKind)
		if err != nil {
			return err
		}
		return mountTmpfs(dst, flags, data)
	}

	fi, err := os.Stat(m.Source)
	if err != nil {
		return fmt.Errorf("bind-mounting %s: %w", m.Source, err)
	}
	kind := fileKind
	if fi.IsDir() {
		kind = dirKind
	}
	dst, err := r.mountpoint(m.Target, kind)
	if err != nil {
		return err
	}
	if err := bindMount(m.Source, dst, m.ReadOnly); err != nil {
		return err
	}
	if attrs != 0 {
		return setMountAttr(dst, attrs)
	}
	return nil
}

type pathKind int

const (
	dirKind pathKind = iota
	fileKind
)

// mountpoint returns the host path of target inside the root, creating it (and
// missing parents) and recording what it created.
func (r *rootfs) mountpoint(target string, kind pathKind) (string, error) {
	p, made, err := r.mkpath(target, kind)
	r.created = append(r.created, made...)
	if err != nil {
		return "", fmt.Errorf("creating mount point %s: %w", target, err)
	}
	return p, nil
}

// mkpath resolves target inside the root, symlinks included but never leaving it,
// and creates what is missing: directories, and an empty file last for fileKind.
// It returns the host path and the relative paths it created, parents first.
func (r *rootfs) mkpath(target string, kind pathKind) (string, []string, error) {
	full, err := securejoin.SecureJoin(r.dir, target)
	if err != nil {
		return "", nil, err
	}
	rel, err := filepath.Rel(r.dir, full)
	if err != nil || rel == "." {
		return full, nil, err
	}

	var made []string
	parts := strings.Split(rel, string(filepath.Separator))
	for i := range parts {
		relPath := filepath.Join(parts[:i+1]...)
		cur := filepath.Join(r.dir, relPath)
		last := i == len(parts)-1
		fi, err := os.Lstat(cur)
		if err == nil {
			if (!last || kind == dirKind) && !fi.IsDir() {
				return "", made, fmt.Errorf("%s: not a directory", relPath)
			}
			if last && kind == fileKind && fi.IsDir() {
				return "", made, fmt.Errorf("%s: is a directory", relPath)
			}
			continue
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", made, err
		}
		if last && kind == fileKind {
			err = createEmpty(cur)
		} else {
			err = os.Mkdir(cur, 0o755)
		}
		if err != nil {
			return "", made, err
		}
		made = append(made, relPath)
	}
	return full, made, nil
}

func createEmpty(p string) error {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// bindRoot mounts the root directory of the copy fallback at dir, so that
// the step's root is a mount point as pivot_root requires.
func bindRoot(root, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating sandbox directory: %w", err)
	}
	if err := unix.Mount(root, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting the root %s: %w", root, err)
	}
	return nil
}
