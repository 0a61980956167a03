package builder

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/ibuild/ibuild/builder/sandbox"
	"github.com/ibuild/ibuild/layers"
)

// snapshotterEnv forces the copy snapshotter ("copy") even where overlayfs
// works, to test it or to work around a broken overlayfs.
const snapshotterEnv = "IBUILD_SNAPSHOTTER"

// useCopy reports whether RUN steps and filesystem views must do without
// overlayfs: when IBUILD_SNAPSHOTTER=copy, or when this kernel refuses an
// overlay mount here (checked once per build).
func (b *build) useCopy() bool {
	b.copyOnce.Do(func() {
		if os.Getenv(snapshotterEnv) == "copy" {
			b.copyMode = true
			return
		}
		b.copyMode = !overlayWorks(filepath.Join(b.opts.Root, "tmp"))
		if b.copyMode {
			b.warn("overlayfs cannot be mounted here: RUN steps use the slower copy snapshotter")
		}
	})
	return b.copyMode
}

// overlayWorks mounts and unmounts a small read-only overlay in tmp.
func overlayWorks(tmp string) bool {
	dir, err := os.MkdirTemp(tmp, "probe-")
	if err != nil {
		return false
	}
	defer os.RemoveAll(dir)
	a, c, m := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "m")
	for _, d := range []string{a, c, m} {
		if os.Mkdir(d, 0o755) != nil {
			return false
		}
	}
	if mountOverlay([]string{a, c}, m) != nil {
		return false
	}
	_ = unix.Unmount(m, unix.MNT_DETACH)
	return true
}

// prepareRoot gives a copy-mode step its own full copy of the stage's
// filesystem to run in, and records it to find the step's changes later.
func (s *state) prepareRoot(ctx context.Context, spec *sandbox.Spec, work string) error {
	if !s.b.useCopy() {
		return nil
	}
	dirs := make([]string, 0, len(spec.Lowers))
	for i := len(spec.Lowers) - 1; i >= 0; i-- {
		dirs = append(dirs, spec.Lowers[i])
	}
	root := filepath.Join(work, "rootfs")
	if err := layers.Materialize(root, dirs...); err != nil {
		return fmt.Errorf("copying the stage's filesystem: %w", err)
	}
	tree, err := layers.Snapshot(root)
	if err != nil {
		return err
	}
	spec.RootDir, s.before = root, tree
	return nil
}

// commitRun turns what the step wrote into a stored layer and returns it with
// the directory that holds it unpacked ("" when it must be unpacked later).
func (s *state) commitRun(ctx context.Context, spec sandbox.Spec,
	created []string) (layers.Desc, string, error) {
	if spec.RootDir != "" {
		return s.commitCopy(ctx, spec, created)
	}
	if err := removeMountPoints(spec.Upper, created); err != nil {
		return layers.Desc{}, "", err
	}
	if err := s.pruneStubParents(ctx, spec.Upper, created); err != nil {
		return layers.Desc{}, "", err
	}
	below, err := s.rootfs(ctx)
	if err != nil {
		return layers.Desc{}, "", err
	}
	d, err := s.b.store.WriteLayer(ctx, s.b.writeOptions(), func(tw *tar.Writer) error {
		return layers.DiffUpper(ctx, spec.Upper, tw,
			layers.DiffOptions{Epoch: s.b.opts.Epoch, Lower: below})
	})
	if err != nil {
		return layers.Desc{}, "", fmt.Errorf("writing the layer of the step: %w", err)
	}
	dir, err := s.b.store.AdoptUpper(spec.Upper, d.DiffID)
	if err != nil {
		return layers.Desc{}, "", fmt.Errorf("keeping the step's files: %w", err)
	}
	return d, dir, nil
}

// commitCopy diffs a copy-mode step's root against what it was before.
func (s *state) commitCopy(ctx context.Context, spec sandbox.Spec,
	created []string) (layers.Desc, string, error) {
	if err := removeMountPoints(spec.RootDir, created); err != nil {
		return layers.Desc{}, "", err
	}
	// The mount points' directories changed only by their stubs stay out.
	var exclude []string
	for _, p := range created {
		if keptMountPoint(p) {
			continue
		}
		if fi, err := os.Lstat(filepath.Join(spec.RootDir, p)); err != nil || !fi.IsDir() {
			continue
		}
		exclude = append(exclude, p)
	}
	d, err := s.b.store.WriteLayer(ctx, s.b.writeOptions(), func(tw *tar.Writer) error {
		return layers.DiffTree(ctx, spec.RootDir, s.before, tw,
			layers.DiffOptions{Epoch: s.b.opts.Epoch, Exclude: exclude})
	})
	s.before = nil
	if err != nil {
		return layers.Desc{}, "", fmt.Errorf("writing the layer of the step: %w", err)
	}
	return d, "", nil
}
