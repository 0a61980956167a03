package builder

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/ibuild/ibuild/layers"
)

// rootfs returns a directory holding the stage's filesystem as it is now,
// read-only. The first call for a set of layers unpacks them into the store
// (once per layer, shared by all builds) and mounts them; later calls reuse
// the mount until a new layer is added.
func (s *state) rootfs(ctx context.Context) (string, error) {
	if s.view != "" {
		return s.view, nil
	}
	dirs, err := s.unpackAll(ctx)
	if err != nil {
		return "", err
	}
	view := s.b.mounts.view
	if s.b.useCopy() {
		view = s.b.mounts.copyView
	}
	v, err := view(dirs)
	if err != nil {
		return "", fmt.Errorf("mounting the stage's filesystem: %w", err)
	}
	s.view = v
	return v, nil
}

// unpackAll makes sure every layer of the stage is unpacked and returns their
// directories, top-most first (overlay's order).
func (s *state) unpackAll(ctx context.Context) ([]string, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, l := range s.layers {
		if l.dir != "" {
			continue
		}
		wg.Add(1)
		go func(l *layerRef) {
			defer wg.Done()
			dir, err := s.b.store.Unpack(ctx, withDownloadProgress(l.layer, s.step, s.b.store))
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			l.dir = dir
		}(l)
	}
	wg.Wait()
	if first != nil {
		return nil, fmt.Errorf("unpacking base layers: %w", first)
	}
	// Two layers with the same content (two RUN steps that change nothing)
	// share one directory, which overlay refuses to stack twice (ELOOP).
	// The top-most copy alone gives the same view: it hides whatever the
	// lower copy shows or deletes.
	dirs := make([]string, 0, len(s.layers))
	seen := map[string]bool{}
	for i := len(s.layers) - 1; i >= 0; i-- {
		if d := s.layers[i].dir; !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	return dirs, nil
}

// commitLayer writes a new layer from fill, appends it to the stage and
// records createdBy in the history.
func (s *state) commitLayer(ctx context.Context, createdBy string,
	fill func(tw *tar.Writer) error) error {
	d, err := s.b.store.WriteLayer(ctx, s.b.writeOptions(), fill)
	if err != nil {
		return err
	}
	return s.appendLayer(d, "", createdBy)
}

// appendLayer adds a stored layer (unpacked at dir, when known).
func (s *state) appendLayer(d layers.Desc, dir, createdBy string) error {
	l, err := s.b.store.Layer(d)
	if err != nil {
		return fmt.Errorf("opening layer %s: %w", d.Digest, err)
	}
	s.layers = append(s.layers, &layerRef{layer: l, dir: dir})
	s.cfg.RootFS.DiffIDs = append(s.cfg.RootFS.DiffIDs, d.DiffID)
	s.history(createdBy, true)
	s.view = ""
	return nil
}

func (b *build) writeOptions() layers.WriteOptions {
	return layers.WriteOptions{Compression: b.opts.Compression, Level: b.opts.CompressionLevel,
		Epoch: b.opts.Epoch}
}

// owner is a numeric uid and gid, with the supplementary groups of a user.
type owner struct {
	uid, gid int
	groups   []int
	home     string
}

// lookupOwner resolves a --chown or USER value: numbers are taken as they
// are (a lone uid gives gid = uid for --chown), names are looked up in the
// stage's /etc/passwd and /etc/group.
func (s *state) lookupOwner(ctx context.Context, spec string) (owner, error) {
	if spec == "" {
		return owner{}, nil
	}
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, uerr := strconv.Atoi(u)
	gid, gerr := strconv.Atoi(g)
	if uerr == nil && (!hasGroup || gerr == nil) {
		if !hasGroup {
			gid = uid
		}
		return owner{uid: uid, gid: gid}, nil
	}
	root, err := s.rootfs(ctx)
	if err != nil {
		return owner{}, err
	}
	return lookupInRoot(root, spec, true)
}

// mountSet tracks the read-only views a build mounted, to unmount them all.
type mountSet struct {
	mu    sync.Mutex
	tmp   string
	paths []string
	empty string
	// copies holds the copy mode's materialised views by their layers.
	copies   map[string]string
	copyDirs []string
}

func (m *mountSet) emptyDir() (string, error) {
	if m.empty != "" {
		return m.empty, nil
	}
	d, err := os.MkdirTemp(m.tmp, "empty-")
	if err != nil {
		return "", err
	}
	m.empty = d
	return d, nil
}
