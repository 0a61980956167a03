package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// ImageStore is the local image store: an OCI image layout at Root whose
// index.json has one entry per image name (annotated as containerd does)
// and whose blobs directory is shared with the layer store of package
// layers. Writers take flocks under ROOT/locks; readers need none, since
// every file is replaced by rename.
type ImageStore struct {
	// Root is the directory of the layout (and of the whole ibuild store).
	Root string
}

// saveJobs is how many layer blobs Save copies at once.
const saveJobs = 4

// OpenImageStore makes sure the layout at root exists (oci-layout,
// index.json, blobs/sha256, tmp, locks) and returns the store.
func OpenImageStore(root string) (*ImageStore, error) {
	s := &ImageStore{Root: root}
	for _, d := range []string{"blobs/sha256", "tmp", "locks"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("opening image store %s: %w", root, err)
		}
	}
	layout := filepath.Join(root, "oci-layout")
	if _, err := os.Stat(layout); errors.Is(err, fs.ErrNotExist) {
		if err := s.writeFileAtomic(layout, []byte(layoutFile)); err != nil {
			return nil, fmt.Errorf("opening image store %s: %w", root, err)
		}
	}
	index := filepath.Join(root, "index.json")
	if _, err := os.Stat(index); errors.Is(err, fs.ErrNotExist) {
		err := s.update(func(ms []v1.Descriptor) ([]v1.Descriptor, error) { return ms, nil })
		if err != nil {
			return nil, fmt.Errorf("opening image store %s: %w", root, err)
		}
	}
	return s, nil
}

func (s *ImageStore) tmpDir() string { return filepath.Join(s.Root, "tmp") }

func (s *ImageStore) blobPath(h v1.Hash) string {
	return filepath.Join(s.Root, "blobs", h.Algorithm, h.Hex)
}

// Save stores img under tags (names as the user writes them, "app:1";
// none keeps the image untagged). Blobs the store already has, such as
// layers package layers wrote, are not written again. A tag that named
// another image moves to img; that image stays, untagged, if no other tag
// names it and it is not the same image in another form (an index that
// lists img, see setNames).
func (s *ImageStore) Save(ctx context.Context, img v1.Image, tags []string) error {
	names, err := normalizeAll(tags)
	if err != nil {
		return err
	}
	unlock, err := s.lock("gc.lock", syscall.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	desc, err := s.writeImage(ctx, img)
	if err != nil {
		return fmt.Errorf("saving image %s: %w", tagList(tags), err)
	}
	err = s.update(func(ms []v1.Descriptor) ([]v1.Descriptor, error) {
		return setNames(ms, desc, names, s.nested(desc)), nil
	})
	if err != nil {
		return fmt.Errorf("saving image %s: %w", tagList(tags), err)
	}
	return nil
}

// normalizeAll gives the full names of tags, without duplicates.
func normalizeAll(tags []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, t := range tags {
		n, err := NormalizeTag(t)
		if err != nil {
			return nil, err
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

func tagList(tags []string) string {
	if len(tags) == 0 {
		return "(untagged)"
	}
	return fmt.Sprint(tags)
}

// writeImage writes img's missing blobs (layers, config, manifest) and
// returns the descriptor of its manifest.
func (s *ImageStore) writeImage(ctx context.Context, img v1.Image) (v1.Descriptor, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("listing layers: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(saveJobs)
	for _, l := range layers {
		g.Go(func() error { return s.writeLayer(gctx, l) })
	}
	if err := g.Wait(); err != nil {
		return v1.Descriptor{}, err
	}

	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading the config: %w", err)
	}
	if err := s.writeBytes(cfg); err != nil {
		return v1.Descriptor{}, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading the manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("reading the manifest: %w", err)
	}
	if err := s.writeBytes(raw); err != nil {
		return v1.Descriptor{}, err
	}
	digest, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: digest}, nil
}

// writeLayer copies a layer's compressed blob into the store unless the
// store has it. Non-distributable (foreign) layers are not copied.
func (s *ImageStore) writeLayer(ctx context.Context, l v1.Layer) error {
	h, err := l.Digest()
	if err != nil {
		return fmt.Errorf("reading a layer digest: %w", err)
	}
	if mt, err := l.MediaType(); err == nil && !mt.IsDistributable() {
		return nil
	}
	if s.hasBlob(h) {
		return nil
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", h, err)
	}
	defer rc.Close()
	return s.writeBlob(ctx, h, rc)
}

func (s *ImageStore) hasBlob(h v1.Hash) bool {
	_, err := os.Stat(s.blobPath(h))
	return err == nil
}

// writeBytes stores b as a blob named by its sha256.
func (s *ImageStore) writeBytes(b []byte) error {
	h, _, err := v1.SHA256(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if s.hasBlob(h) {
		return nil
	}
	return s.writeBlob(context.Background(), h, bytes.NewReader(b))
}

// writeBlob copies r to a temp file under ROOT/tmp, checks that its sha256
// is h and renames it into ROOT/blobs.
func (s *ImageStore) writeBlob(ctx context.Context, h v1.Hash, r io.Reader) error {
	if h.Algorithm != "sha256" {
		return fmt.Errorf("writing blob %s: unsupported digest algorithm", h)
	}
	f, err := os.CreateTemp(s.tmpDir(), "blob-*")
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	}
	defer os.Remove(f.Name())
	sum := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, sum), ctxReader{ctx, r})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	}
	if got := fmt.Sprintf("%x", sum.Sum(nil)); got != h.Hex {
		return fmt.Errorf("writing blob %s: content has digest sha256:%s", h, got)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	}
	if err := os.Rename(f.Name(), s.blobPath(h)); err != nil {
		return fmt.Errorf("writing blob %s: %w", h, err)
	}
	return nil
}

// ctxReader stops a copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read implements io.Reader.
func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
