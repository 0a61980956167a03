package builder

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/ibuild/ibuild/builder/sandbox"
)

// secretMount mounts a secret as a file (default /run/secrets/ID) or, with
// env=NAME and no target, only sets that variable. skip says there is
// nothing to mount: an env-only secret, or an optional one not given.
//
// A secret never touches the disk: its file lives on a small tmpfs of
// ibuild's own mount namespace, so even a killed build leaves no copy in
// the store. It never reaches the layer (the mount point is removed), the
// history (only the step's command line is recorded) or the cache key
// (only the id counts).
func (s *state) secretMount(m *instructions.Mount) (sandbox.Mount, bool, error) {
	id := m.CacheID
	if id == "" {
		id = path.Base(m.Target)
	}
	sec, ok := s.b.opts.Secrets[id]
	if !ok {
		if m.Required {
			return sandbox.Mount{}, false, fmt.Errorf(
				"secret %q is required but was not given (--secret id=%s,…)", id, id)
		}
		return sandbox.Mount{}, true, nil
	}
	data, err := readSecret(sec)
	if err != nil {
		return sandbox.Mount{}, false, fmt.Errorf("reading secret %q: %w", id, err)
	}
	if m.Env != nil && *m.Env != "" {
		s.secretEnv = append(s.secretEnv, *m.Env+"="+string(data))
		if m.Target == "" {
			return sandbox.Mount{}, true, nil
		}
	}
	target := m.Target
	if target == "" {
		target = "/run/secrets/" + id
	}
	f, err := s.secretFile(data, mountMode(m, 0o400), m)
	if err != nil {
		return sandbox.Mount{}, false, fmt.Errorf("preparing secret %q: %w", id, err)
	}
	return sandbox.Mount{Type: "bind", Source: f, Target: target, ReadOnly: true}, false, nil
}

// secretFile writes data to a new file on a private tmpfs and returns its
// path; cleanupRun unmounts the tmpfs. Where no tmpfs can be mounted (not
// in a mount namespace of ibuild's own) the file goes to ROOT/tmp, readable
// by its owner only, and is removed after the step.
func (s *state) secretFile(data []byte, mode os.FileMode, m *instructions.Mount) (string, error) {
	dir, err := os.MkdirTemp(filepath.Join(s.b.opts.Root, "tmp"), "secret-")
	if err != nil {
		return "", err
	}
	opts := "mode=0700,size=" + strconv.Itoa(len(data)+64<<10)
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if unix.Mount("tmpfs", dir, "tmpfs", flags, opts) == nil {
		s.onRelease(func() {
			_ = unix.Unmount(dir, unix.MNT_DETACH)
			_ = os.Remove(dir)
		})
	} else {
		// TODO: outside ibuild's mount namespace (library use without
		// root) a killed build leaves this file in ROOT/tmp.
		s.onRelease(func() { _ = os.RemoveAll(dir) })
	}
	f := filepath.Join(dir, "secret")
	if err := os.WriteFile(f, data, mode); err != nil {
		return "", err
	}
	if err := os.Chmod(f, mode); err != nil {
		return "", err
	}
	uid, gid := mountOwner(m)
	if err := os.Lchown(f, uid, gid); err != nil {
		return "", err
	}
	return f, nil
}

func readSecret(sec Secret) ([]byte, error) {
	if sec.Env != "" {
		v, ok := os.LookupEnv(sec.Env)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", sec.Env)
		}
		return []byte(v), nil
	}
	return os.ReadFile(sec.File)
}
