package layers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OpenStore opens the content store at root, creating its folders as needed.
func OpenStore(root string) (*Store, error) {
	if root == "" {
		return nil, errors.New("opening store: empty root")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("opening store %s: %w", root, err)
	}
	s := &Store{Root: abs}
	for _, d := range []string{s.blobDir(), s.dir("unpacked"), s.dir("tmp"), s.dir("locks")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("opening store %s: %w", root, err)
		}
	}
	return s, nil
}

func (s *Store) dir(name string) string { return filepath.Join(s.Root, name) }

func (s *Store) blobDir() string { return filepath.Join(s.Root, "blobs", "sha256") }

// BlobPath is where the blob with digest h is (or would be) stored.
func (s *Store) BlobPath(h v1.Hash) string {
	return filepath.Join(s.Root, "blobs", h.Algorithm, h.Hex)
}

// UnpackedPath is where the layer with diff ID h is (or would be) unpacked.
func (s *Store) UnpackedPath(diffID v1.Hash) string {
	return filepath.Join(s.Root, "unpacked", diffID.Hex)
}

// MkdirTemp creates a new directory under ROOT/tmp, on the same file system
// as the unpacked layers, so AdoptUpper can rename it into place. The
// pattern works as in os.MkdirTemp.
func (s *Store) MkdirTemp(pattern string) (string, error) {
	d, err := os.MkdirTemp(s.dir("tmp"), pattern)
	if err != nil {
		return "", fmt.Errorf("creating work directory: %w", err)
	}
	return d, nil
}

func checkHash(h v1.Hash) error {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return fmt.Errorf("unsupported digest %q", h.String())
	}
	for _, c := range h.Hex {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("malformed digest %q", h.String())
		}
	}
	return nil
}

// Layer returns a v1.Layer backed by the blob d describes. It fails when the
// blob is missing, its size differs from d.Size, or its media type is not a
// layer type this package writes.
func (s *Store) Layer(d Desc) (v1.Layer, error) {
	if err := checkHash(d.Digest); err != nil {
		return nil, fmt.Errorf("opening layer: %w", err)
	}
	if _, err := compressionOf(d.MediaType); err != nil {
		return nil, fmt.Errorf("opening layer %s: %w", d.Digest, err)
	}
	p := s.BlobPath(d.Digest)
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("opening layer %s: %w", d.Digest, err)
	}
	if fi.Size() != d.Size {
		return nil, fmt.Errorf("opening layer %s: blob has %d bytes, descriptor says %d",
			d.Digest, fi.Size(), d.Size)
	}
	return &blobLayer{path: p, desc: d}, nil
}

// blobLayer is a v1.Layer over a blob file in the store.
type blobLayer struct {
	path string
	desc Desc
}

func (l *blobLayer) Digest() (v1.Hash, error)             { return l.desc.Digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)             { return l.desc.DiffID, nil }
func (l *blobLayer) Size() (int64, error)                 { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error)  { return l.desc.MediaType, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *blobLayer) Uncompressed() (io.ReadCloser, error) { return l.uncompressed() }

func (l *blobLayer) uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	c, _ := compressionOf(l.desc.MediaType)
	rc, err := decompress(f, c)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading layer %s: %w", l.desc.Digest, err)
	}
	return rc, nil
}

// AdoptUpper renames a finished overlay upper directory into the store as the
// unpacked form of the layer with the given diff ID. When that layer is
// already unpacked, upper is removed instead. upper must be on the store's
// file system (see MkdirTemp).
func (s *Store) AdoptUpper(upper string, diffID v1.Hash) (string, error) {
	if err := checkHash(diffID); err != nil {
		return "", fmt.Errorf("adopting %s: %w", upper, err)
	}
	unlock, err := s.lock(context.Background(), diffID)
	if err != nil {
		return "", fmt.Errorf("adopting %s as %s: %w", upper, diffID, err)
	}
	defer unlock()

	dst := s.UnpackedPath(diffID)
	if _, err := os.Lstat(dst); err == nil {
		if err := os.RemoveAll(upper); err != nil {
			return "", fmt.Errorf("adopting %s as %s: %w", upper, diffID, err)
		}
		return dst, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("adopting %s as %s: %w", upper, diffID, err)
	}
	if err := os.Rename(upper, dst); err != nil {
		return "", fmt.Errorf("adopting %s as %s: %w", upper, diffID, err)
	}
	return dst, nil
}
