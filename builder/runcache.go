package builder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"golang.org/x/sys/unix"

	"github.com/ibuild/ibuild/builder/sandbox"
)

// maxPrivateCaches bounds how many copies of one cache a sharing=private
// mount makes when all of them are in use.
const maxPrivateCaches = 64

// cacheMount gives the step a directory kept in the store across builds,
// ROOT/cache-mounts/<hash of the id>. The id defaults to the target. The
// sharing mode says what concurrent steps (of this build or of other
// ibuild processes on the same store) see:
//
//   - shared (the default): the same directory, at the same time;
//   - locked: the same directory, one step at a time: the next waits;
//   - private: the directory when no one else uses it, else a copy of its
//     own (ID-1, ID-2, ...), kept for later steps too.
//
// The locks are flock(2) locks on files in ROOT/locks, held until the step
// ends, so they die with a killed process. uid, gid and mode apply when the
// directory is created.
func (s *state) cacheMount(ctx context.Context, m *instructions.Mount,
	target string) (sandbox.Mount, error) {
	if m.From != "" || m.Source != "" {
		// TODO: BuildKit seeds a new cache from a stage's files; ibuild cannot yet.
		return sandbox.Mount{}, errors.New(
			"RUN --mount=type=cache with from or source is not supported")
	}
	id := m.CacheID
	if id == "" {
		id = target
	}
	name := cacheMountName(id)
	var (
		unlock func()
		err    error
	)
	switch m.CacheSharing {
	case instructions.MountSharingLocked:
		unlock, err = s.flock(ctx, "cache-"+name, true)
	case instructions.MountSharingPrivate:
		name, unlock, err = s.privateCache(name)
	}
	if err != nil {
		return sandbox.Mount{}, fmt.Errorf("cache mount %s: %w", id, err)
	}
	if unlock != nil {
		s.onRelease(unlock)
	}
	dir := filepath.Join(s.b.opts.Root, "cache-mounts", name)
	s.restoreCacheMount(ctx, id, dir, m)
	if err := s.createCacheDir(dir, m); err != nil {
		return sandbox.Mount{}, fmt.Errorf("creating cache mount %s: %w", id, err)
	}
	return sandbox.Mount{Type: "bind", Source: dir, Target: target}, nil
}

// privateCache takes the first copy of the cache name that no one holds.
func (s *state) privateCache(name string) (string, func(), error) {
	for i := range maxPrivateCaches {
		n := name
		if i > 0 {
			n = name + "-" + strconv.Itoa(i)
		}
		unlock, err := s.tryFlock("cache-" + n)
		if err != nil {
			return "", nil, err
		}
		if unlock != nil {
			return n, unlock, nil
		}
	}
	return "", nil, fmt.Errorf("all %d private copies are in use", maxPrivateCaches)
}

// createCacheDir creates dir, when missing, with the owner and mode the
// mount asks for. It is made aside and renamed into place, so a step never
// sees it half set up and concurrent creators do not collide.
func (s *state) createCacheDir(dir string, m *instructions.Mount) error {
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.b.opts.Root, "tmp"), "cache-")
	if err != nil {
		return err
	}
	uid, gid := mountOwner(m)
	err = os.Chmod(tmp, mountMode(m, 0o755))
	if err == nil {
		err = os.Lchown(tmp, uid, gid)
	}
	if err == nil {
		err = os.Rename(tmp, dir)
	}
	if err == nil {
		return nil
	}
	os.Remove(tmp)
	if errors.Is(err, fs.ErrExist) || errors.Is(err, unix.ENOTEMPTY) {
		return nil // another step created it first
	}
	return err
}

// flock takes the lock ROOT/locks/NAME.lock, shared or exclusive, waiting
// until ctx ends.
func (s *state) flock(ctx context.Context, name string, exclusive bool) (func(), error) {
	f, err := os.OpenFile(s.lockPath(name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	wait := time.Millisecond
	for told := false; ; told = true {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", name, err)
		}
		if !told && s.step != nil {
			s.step.status("waiting for a cache mount another step holds")
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", name, context.Cause(ctx))
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// tryFlock takes the exclusive lock NAME if it is free; it returns a nil
// release function when someone else holds it.
func (s *state) tryFlock(name string) (func(), error) {
	f, err := os.OpenFile(s.lockPath(name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, nil
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", name, err)
	}
	return func() { f.Close() }, nil
}

func (s *state) lockPath(name string) string {
	return filepath.Join(s.b.opts.Root, "locks", name+".lock")
}
