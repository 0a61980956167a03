package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ibuild/ibuild/registry"
)

// pruneReport says what prune removed, and how many bytes each part held.
type pruneReport struct {
	Images, Blobs, Unpacked              int
	BlobBytes, UnpackedBytes, CacheBytes int64
	TmpBytes                             int64
}

func (r pruneReport) total() int64 {
	return r.BlobBytes + r.UnpackedBytes + r.CacheBytes + r.TmpBytes
}

// pruneStore deletes from the store at root the dangling (untagged) images,
// as `docker image prune` does, and then what no stored image uses:
// leftovers under ROOT/tmp, blobs no image reaches, and unpacked layers
// that are no layer of an image. The instruction cache (ROOT/cache) and
// what it refers to stay, unless all is set: then the cache and the
// RUN --mount=type=cache directories (ROOT/cache-mounts) go first. The
// caller holds the store lock exclusively, so no build uses the store.
//
// TODO: this belongs beside the cache (package builder) and the unpacked
// layers (package layers); it keeps every digest the cache files mention
// rather than parse their format, which is still changing.
func pruneStore(ctx context.Context, root string, all bool) (pruneReport, error) {
	var r pruneReport
	if all {
		for _, d := range []string{"cache", "cache-mounts"} {
			n, err := removeTree(filepath.Join(root, d))
			r.CacheBytes += n
			if err != nil {
				return r, err
			}
		}
	}
	keep, err := mentionedDigests(filepath.Join(root, "cache"))
	if err != nil {
		return r, err
	}
	if r.TmpBytes, err = emptyDir(filepath.Join(root, "tmp")); err != nil {
		return r, err
	}
	st := &registry.ImageStore{Root: root}
	dangling, err := st.RemoveUntagged()
	r.Images = len(dangling)
	if err != nil {
		return r, err
	}
	res, err := st.Prune(ctx, func(h v1.Hash) bool { return keep[h.Hex] })
	r.Blobs, r.BlobBytes = len(res.Removed), res.Bytes
	if err != nil {
		return r, err
	}
	used, err := usedDiffIDs(st)
	if err != nil {
		return r, err
	}
	entries, err := os.ReadDir(filepath.Join(root, "unpacked"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return r, fmt.Errorf("pruning unpacked layers: %w", err)
	}
	for _, e := range entries {
		if !hex64.MatchString(e.Name()) || used[e.Name()] || keep[e.Name()] {
			continue
		}
		n, err := removeTree(filepath.Join(root, "unpacked", e.Name()))
		r.UnpackedBytes += n
		if err != nil {
			return r, err
		}
		r.Unpacked++
	}
	return r, nil
}

// hex64 matches a sha256 in hex, alone (names) or inside text (cache files).
var (
	hex64     = regexp.MustCompile(`^[0-9a-f]{64}$`)
	hex64Text = regexp.MustCompile(`[0-9a-f]{64}`)
)

// maxCacheFile is the largest cache file searched for digests.
const maxCacheFile = 64 << 20

// mentionedDigests returns every sha256 (hex) that a file under dir
// mentions: blobs and diff IDs the instruction cache refers to.
func mentionedDigests(dir string) (map[string]bool, error) {
	out := map[string]bool{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxCacheFile {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range hex64Text.FindAll(b, -1) {
			out[string(m)] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the build cache: %w", err)
	}
	return out, nil
}

// usedDiffIDs is the set of diff IDs (hex) of the layers of stored images,
// of every platform of a stored index.
func usedDiffIDs(st *registry.ImageStore) (map[string]bool, error) {
	used := map[string]bool{}
	list, err := st.List()
	if err != nil {
		return nil, err
	}
	for _, si := range list {
		imgs, err := storedImages(st, si)
		if err != nil {
			return nil, err
		}
		for _, img := range imgs {
			cf, err := img.ConfigFile()
			if err != nil {
				return nil, fmt.Errorf("reading the config of %s: %w", si.Digest, err)
			}
			for _, d := range cf.RootFS.DiffIDs {
				used[d.Hex] = true
			}
		}
	}
	return used, nil
}

// storedImages lists the images of a stored entry: the image, or those an
// index lists (attestation manifests aside).
func storedImages(st *registry.ImageStore, si registry.StoredImage) ([]v1.Image, error) {
	ref := si.Digest.String()
	e, err := st.Lookup(ref)
	if err != nil {
		return nil, err
	}
	if !e.Descriptor.MediaType.IsIndex() {
		img, err := st.Image(ref)
		if err != nil {
			return nil, err
		}
		return []v1.Image{img}, nil
	}
	idx, err := st.Index(ref)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index %s: %w", si.Digest, err)
	}
	var out []v1.Image
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() || registry.IsAttestation(d) {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("reading image %s of index %s: %w", d.Digest, si.Digest, err)
		}
		out = append(out, img)
	}
	return out, nil
}

// emptyDir removes everything in dir and returns the bytes it held.
func emptyDir(dir string) (int64, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pruning %s: %w", dir, err)
	}
	var total int64
	for _, e := range entries {
		n, err := removeTree(filepath.Join(dir, e.Name()))
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// removeTree removes path and returns the bytes its files held (each hard
// linked file once).
func removeTree(path string) (int64, error) {
	n := diskUsage(path)
	if err := os.RemoveAll(path); err != nil {
		return 0, fmt.Errorf("pruning %s: %w", path, err)
	}
	return n, nil
}

// diskUsage is the size of the regular files below path.
func diskUsage(path string) int64 {
	var total int64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			if seen[st.Ino] {
				return nil
			}
			seen[st.Ino] = true
		}
		total += info.Size()
		return nil
	})
	return total
}
