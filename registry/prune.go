package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PruneResult says what Prune removed.
type PruneResult struct {
	// Removed are the digests of the deleted blobs.
	Removed []v1.Hash
	// Bytes is their total size.
	Bytes int64
}

// Prune deletes the blobs under ROOT/blobs that no image of the index
// reaches (manifests, configs, layers, and the children of stored indexes)
// and for which keep, when not nil, returns false; the caller keeps blobs
// it still needs, such as cached layers, that way. ROOT/unpacked and
// ROOT/cache are not touched. Prune excludes Save, Tag and Remove while it
// runs, so it never deletes the blobs of an image being saved; blobs a
// build has written but not saved yet (package layers) are only safe when
// keep names them.
func (s *ImageStore) Prune(ctx context.Context, keep func(v1.Hash) bool) (PruneResult, error) {
	unlock, err := s.lock("gc.lock", syscall.LOCK_EX)
	if err != nil {
		return PruneResult{}, err
	}
	defer unlock()
	live, err := s.reachable()
	if err != nil {
		return PruneResult{}, fmt.Errorf("pruning %s: %w", s.Root, err)
	}
	var res PruneResult
	dir := filepath.Join(s.Root, "blobs", "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("pruning %s: %w", s.Root, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("pruning %s: %w", s.Root, err)
		}
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if e.IsDir() || len(h.Hex) != 64 || !isHex(h.Hex) || live[h] {
			continue
		}
		if keep != nil && keep(h) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return res, fmt.Errorf("pruning blob %s: %w", h, err)
		}
		res.Removed = append(res.Removed, h)
		res.Bytes += info.Size()
	}
	return res, nil
}

// RemoveUntagged drops the images no name refers to (dangling images,
// Docker's <none>:<none>) from the index, as `docker image prune` does,
// and returns the digests of their entries. Their blobs go with the next
// Prune unless another image uses them.
func (s *ImageStore) RemoveUntagged() ([]v1.Hash, error) {
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	if len(namedOnly(im.Manifests)) == len(im.Manifests) {
		return nil, nil // nothing to do: leave the files (and a missing index) alone
	}
	unlock, err := s.lock("gc.lock", syscall.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var removed []v1.Hash
	err = s.update(func(ms []v1.Descriptor) ([]v1.Descriptor, error) {
		removed = nil
		for _, d := range ms {
			if entryName(d) == "" {
				removed = append(removed, d.Digest)
			}
		}
		return namedOnly(ms), nil
	})
	if err != nil {
		return nil, fmt.Errorf("removing untagged images from %s: %w", s.Root, err)
	}
	return removed, nil
}

// reachable is the set of blobs the index refers to, directly or through
// manifests. A manifest blob that is missing ends that branch of the walk.
func (s *ImageStore) reachable() (map[v1.Hash]bool, error) {
	im, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	live := map[v1.Hash]bool{}
	var walk func(d v1.Descriptor) error
	walk = func(d v1.Descriptor) error {
		if live[d.Digest] {
			return nil
		}
		live[d.Digest] = true
		switch {
		case d.MediaType.IsIndex():
			b, err := os.ReadFile(s.blobPath(d.Digest))
			if err != nil {
				return nil
			}
			child, err := v1.ParseIndexManifest(bytes.NewReader(b))
			if err != nil {
				return fmt.Errorf("parsing index %s: %w", d.Digest, err)
			}
			for _, c := range child.Manifests {
				if err := walk(c); err != nil {
					return err
				}
			}
		case d.MediaType.IsImage():
			m, err := s.manifest(d)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			live[m.Config.Digest] = true
			for _, l := range m.Layers {
				live[l.Digest] = true
			}
		}
		return nil
	}
	for _, d := range im.Manifests {
		if err := walk(d); err != nil {
			return nil, err
		}
	}
	return live, nil
}
