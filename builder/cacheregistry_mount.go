package builder

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/ibuild/ibuild/layers"
	"github.com/ibuild/ibuild/registry"
)

// With --cache-to mode=max, the contents of the RUN --mount=type=cache
// directories the build's RUN steps name (run or cached) travel in the
// cache artifact, one tar layer per mount id, so that a CI runner that
// starts empty gets its package and compiler caches back. A directory this
// machine does not have is carried over from the --cache-from artifact.
// On import, the content is unpacked into ROOT/cache-mounts before the
// first RUN that mounts the id, when the directory there is missing or
// empty.

// cacheMountName is the directory name of cache mount id in
// ROOT/cache-mounts (see cacheMount).
func cacheMountName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

// noteCacheMounts records the cache mounts of a RUN step for --cache-to.
func (s *state) noteCacheMounts(c *instructions.RunCommand) {
	x := s.b.cache.out
	if x == nil {
		return
	}
	for _, m := range instructions.GetMounts(c) {
		if m.Type != instructions.MountTypeCache {
			continue
		}
		id := m.CacheID
		if id == "" {
			id = m.Target
			if id != "" && !path.IsAbs(id) {
				id = s.workdirPath(id)
			}
		}
		x.mu.Lock()
		x.mounts[id] = true
		x.mu.Unlock()
	}
}

// restoreCacheMount fills dir, the directory of cache mount id, from the
// registry cache when the cache has it and dir is missing or empty; once
// per directory and build. A failure is a warning: the step runs with what
// the directory holds.
func (s *state) restoreCacheMount(ctx context.Context, id, dir string, m *instructions.Mount) {
	d, ic := s.b.cache.from.mount(id)
	if ic == nil || !s.b.cache.from.claim(dir) {
		return
	}
	if err := s.restoreInto(ctx, ic, d, dir, m); err != nil {
		s.b.warn(fmt.Sprintf("--cache-from %s: restoring cache mount %s: %v", ic.ref, id, err))
	}
}

func (s *state) restoreInto(ctx context.Context, ic *importedCache, d layers.Desc, dir string,
	m *instructions.Mount) error {
	unlock, err := s.flock(ctx, "cache-restore-"+filepath.Base(dir), true)
	if err != nil {
		return err
	}
	defer unlock()
	if empty, err := emptyDir(dir); err != nil || !empty {
		return err
	}
	if err := s.createCacheDir(dir, m); err != nil {
		return err
	}
	l, err := importedLayer(s.b.store, ic, d)
	if err != nil {
		return err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	s.step.status("restoring cache mount " + short(d.Digest.String()))
	return layers.Extract(ctx, rc, dir, s.b.store.UnpackOptions)
}

// emptyDir reports whether dir is missing or has no entries.
func emptyDir(dir string) (bool, error) {
	f, err := os.Open(dir)
	if os.IsNotExist(err) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return false, err
}

// claim reports whether dir was not restored yet in this build, and marks
// it restored.
func (c *cacheImport) claim(dir string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.claimed == nil {
		c.claimed = map[string]bool{}
	}
	if c.claimed[dir] {
		return false
	}
	c.claimed[dir] = true
	return true
}

// mountBlobs returns the layers of the cache mounts for mode=max: each
// directory that holds something, as a new tar layer, else the content the
// --cache-from artifact had for it.
//
// TODO: the directory is read while other builds on the same store may
// write to it, so a concurrent build can make the layer inconsistent; and
// an unchanged directory is packed and hashed again on every export.
func (x *cacheExport) mountBlobs(ctx context.Context) ([]registry.CacheBlob, []mountRecord, error) {
	x.mu.Lock()
	ids := make([]string, 0, len(x.mounts))
	for id := range x.mounts {
		ids = append(ids, id)
	}
	x.mu.Unlock()
	slices.Sort(ids)
	var blobs []registry.CacheBlob
	var recs []mountRecord
	for _, id := range ids {
		dir := filepath.Join(x.root, "cache-mounts", cacheMountName(id))
		empty, err := emptyDir(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("reading cache mount %s: %w", id, err)
		}
		var d layers.Desc
		var ic *importedCache
		if !empty {
			d, err = x.store.WriteLayer(ctx, layers.WriteOptions{Compression: x.comp},
				func(tw *tar.Writer) error {
					return layers.DiffUpper(ctx, dir, tw, layers.DiffOptions{})
				})
			if err != nil {
				return nil, nil, fmt.Errorf("packing cache mount %s: %w", id, err)
			}
		} else if d, ic = x.from.mount(id); ic == nil {
			continue
		}
		l, err := x.store.Layer(d)
		if ic != nil {
			l, err = importedLayer(x.store, ic, d)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("packing cache mount %s: %w", id, err)
		}
		blobs = append(blobs, registry.CacheBlob{Layer: l,
			Annotations: map[string]string{annotationCacheMount: id}})
		recs = append(recs, mountRecord{ID: id, Layer: d})
	}
	return blobs, recs, nil
}
