package registry

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// outputIndex is the index.json of an exported layout: one entry for img
// per tag, annotated as BuildKit's OCI exporter does (the tag part as
// org.opencontainers.image.ref.name, the full name as
// io.containerd.image.name), or a single entry without annotations.
func outputIndex(img mutate.Appendable, tags []string) (v1.ImageIndex, error) {
	names, err := normalizeAll(tags)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: img}), nil
	}
	adds := make([]mutate.IndexAddendum, 0, len(names))
	for _, n := range names {
		adds = append(adds, mutate.IndexAddendum{
			Add: img,
			Descriptor: v1.Descriptor{Annotations: map[string]string{
				AnnotationImageName: n,
				AnnotationRefName:   tagPart(n),
			}},
		})
	}
	return mutate.AppendManifests(empty.Index, adds...), nil
}

// WriteOCILayout writes img (an image or, for several platforms, an image
// index) as a fresh OCI image layout directory at dir,
// with an index entry per tag (see outputIndex). The layout is built in a
// temp directory beside dir and renamed into place; an existing layout (or
// empty directory) at dir is replaced, anything else is refused.
func WriteOCILayout(ctx context.Context, dir string, img mutate.Appendable, tags []string) error {
	idx, err := outputIndex(img, tags)
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if err := checkReplaceable(dir); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	parent, base := filepath.Split(filepath.Clean(dir))
	if parent == "" {
		parent = "."
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if _, err := layout.Write(tmp, idx); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if err := fixModes(tmp); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	if err := swapDir(tmp, dir); err != nil {
		return fmt.Errorf("writing OCI layout %s: %w", dir, err)
	}
	return nil
}

// fixModes gives the files below dir mode 0644 and the directories 0755,
// as the store's own files have: go-containerregistry's layout package
// creates index.json and oci-layout executable (0777 less the umask) and
// some blobs 0600.
func fixModes(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(p, mode)
	})
}

// checkReplaceable refuses to replace dir unless it is missing, empty or an
// OCI layout, so a typo in --output cannot wipe a directory.
func checkReplaceable(dir string) error {
	info, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s exists and is not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err == nil {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(entries) > 0 {
		return fmt.Errorf("%s exists and is neither empty nor an OCI layout", dir)
	}
	return nil
}

// swapDir moves the directory tmp to dest. A directory at dest is renamed
// away first and removed after, so dest always holds a whole layout.
func swapDir(tmp, dest string) error {
	if _, err := os.Lstat(dest); errors.Is(err, fs.ErrNotExist) {
		return os.Rename(tmp, dest)
	}
	old := tmp + ".old"
	if err := os.Rename(dest, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, dest); err != nil {
		if rerr := os.Rename(old, dest); rerr != nil {
			return fmt.Errorf("%w (and restoring the old layout: %v)", err, rerr)
		}
		return err
	}
	return os.RemoveAll(old)
}

// WriteDockerTar writes img as a `docker load` tarball at path
// (manifest.json with RepoTags as Docker writes them, "app:1" for Docker
// Hub names). The tarball is written to a temp file beside path and renamed.
func WriteDockerTar(ctx context.Context, path string, img v1.Image, tags []string) error {
	names, err := normalizeAll(tags)
	if err != nil {
		return fmt.Errorf("writing docker archive %s: %w", path, err)
	}
	refs := map[name.Reference]v1.Image{}
	for _, n := range names {
		t, err := name.NewTag(familiar(n), name.WithDefaultRegistry(""))
		if err != nil {
			return fmt.Errorf("writing docker archive %s: %w", path, err)
		}
		refs[t] = img
	}
	if len(refs) == 0 {
		d, err := img.Digest()
		if err != nil {
			return fmt.Errorf("writing docker archive %s: %w", path, err)
		}
		ref, err := name.NewDigest("image@"+d.String(), name.WithDefaultRegistry(""))
		if err != nil {
			return fmt.Errorf("writing docker archive %s: %w", path, err)
		}
		refs[ref] = img
	}
	return writeFileAtomic(ctx, path, "docker archive", func(f *os.File) error {
		return tarball.MultiRefWrite(refs, f)
	})
}

// familiar is the short form Docker prints for a full name: docker.io/ and
// then library/ are dropped.
func familiar(full string) string {
	s, ok := strings.CutPrefix(full, hubAlias+"/")
	if !ok {
		return full
	}
	if rest, ok := strings.CutPrefix(s, "library/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return s
}
