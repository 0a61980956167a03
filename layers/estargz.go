package layers

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/containerd/stargz-snapshotter/estargz"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// writeEstargz writes an eStargz layer: a gzip layer that lazy-pulling
// snapshotters can read file by file. The tar is first written whole to a
// temporary file, as eStargz needs to seek in it to lay out its index.
func (s *Store) writeEstargz(ctx context.Context, opts WriteOptions,
	produce func(w io.Writer) error) (Desc, error) {
	tmp, err := os.CreateTemp(s.dir("tmp"), "estargz-src-*")
	if err != nil {
		return Desc{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := produce(&ctxWriter{ctx: ctx, w: tmp}); err != nil {
		return Desc{}, err
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return Desc{}, err
	}
	eopts := []estargz.Option{estargz.WithContext(ctx)}
	if opts.Level != 0 {
		eopts = append(eopts, estargz.WithCompressionLevel(opts.Level))
	}
	blob, err := estargz.Build(io.NewSectionReader(tmp, 0, size), eopts...)
	if err != nil {
		return Desc{}, fmt.Errorf("building estargz layer: %w", err)
	}
	defer blob.Close()
	d, err := s.storeStream(blob)
	if err != nil {
		return Desc{}, err
	}
	diffID, err := v1.NewHash(blob.DiffID().String())
	if err != nil {
		return Desc{}, err
	}
	usize, err := blob.UncompressedSize()
	if err != nil {
		return Desc{}, err
	}
	d.DiffID, d.MediaType = diffID, types.OCILayer
	d.TOCDigest, d.UncompressedSize = blob.TOCDigest().String(), usize
	return d, nil
}

// Annotations returns the annotations the layer's manifest descriptor needs:
// for an eStargz layer its index digest and uncompressed size, else none.
func (d Desc) Annotations() map[string]string {
	if d.TOCDigest == "" {
		return nil
	}
	return map[string]string{
		estargz.TOCJSONDigestAnnotation:         d.TOCDigest,
		estargz.StoreUncompressedSizeAnnotation: strconv.FormatInt(d.UncompressedSize, 10),
	}
}

// storeStream copies an already compressed blob into the blob folder.
func (s *Store) storeStream(r io.Reader) (Desc, error) {
	f, err := os.CreateTemp(s.dir("tmp"), "blob-*")
	if err != nil {
		return Desc{}, err
	}
	h, n := sha256.New(), &counter{}
	if _, err := io.Copy(io.MultiWriter(f, h, n), r); err != nil {
		f.Close()
		os.Remove(f.Name())
		return Desc{}, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return Desc{}, err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return Desc{}, err
	}
	d := Desc{Digest: sum(h), Size: n.n}
	if err := os.Rename(f.Name(), s.BlobPath(d.Digest)); err != nil {
		os.Remove(f.Name())
		return Desc{}, err
	}
	return d, nil
}

// LayerAnnotations returns the manifest descriptor annotations a layer from
// the store needs (eStargz), or nil for any other layer.
func LayerAnnotations(l v1.Layer) map[string]string {
	if b, ok := l.(*blobLayer); ok {
		return b.desc.Annotations()
	}
	return nil
}
