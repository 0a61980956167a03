package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The annotations an index entry of the store carries, as containerd's
// image store and BuildKit's OCI exporter write them.
const (
	// AnnotationImageName holds the full name, "docker.io/library/app:1".
	AnnotationImageName = "io.containerd.image.name"
	// AnnotationRefName holds the tag part of the name, "1".
	AnnotationRefName = "org.opencontainers.image.ref.name"
)

const layoutFile = `{"imageLayoutVersion":"1.0.0"}`

// entryName is the full image name an index entry carries, or "".
func entryName(d v1.Descriptor) string {
	return d.Annotations[AnnotationImageName]
}

// readIndex reads ROOT/index.json; a missing file is an empty index.
func (s *ImageStore) readIndex() (*v1.IndexManifest, error) {
	b, err := os.ReadFile(filepath.Join(s.Root, "index.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return emptyIndex(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the image store index: %w", err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", filepath.Join(s.Root, "index.json"), err)
	}
	return &im, nil
}

func emptyIndex() *v1.IndexManifest {
	return &v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests:     []v1.Descriptor{},
	}
}

// writeIndex replaces ROOT/index.json atomically.
func (s *ImageStore) writeIndex(im *v1.IndexManifest) error {
	if im.Manifests == nil {
		im.Manifests = []v1.Descriptor{}
	}
	b, err := json.Marshal(im)
	if err != nil {
		return fmt.Errorf("encoding the image store index: %w", err)
	}
	return s.writeFileAtomic(filepath.Join(s.Root, "index.json"), b)
}

// writeFileAtomic writes b to a temp file under ROOT/tmp and renames it to
// path, so readers see the old or the new content, never a mix.
func (s *ImageStore) writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(s.tmpDir(), filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// update changes the index under the store's locks: fn gets the current
// entries and returns the new ones. It holds the collector lock shared so a
// Prune cannot run between the blob writes of a Save and its index update.
func (s *ImageStore) update(fn func([]v1.Descriptor) ([]v1.Descriptor, error)) error {
	unlock, err := s.lock("index.lock", syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	im, err := s.readIndex()
	if err != nil {
		return err
	}
	ms, err := fn(im.Manifests)
	if err != nil {
		return err
	}
	im.Manifests = ms
	return s.writeIndex(im)
}

// lock takes a flock (syscall.LOCK_EX or LOCK_SH) on ROOT/locks/NAME and
// returns the function that releases it.
func (s *ImageStore) lock(lockName string, how int) (func(), error) {
	path := filepath.Join(s.Root, "locks", lockName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
