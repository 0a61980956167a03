package builder

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ibuild/ibuild/layers"
	"github.com/ibuild/ibuild/registry"
)

// importedLayer is the layer d of an imported cache: the store's blob when
// the store has it, else a layer read from the registry on first use.
func importedLayer(store *layers.Store, ic *importedCache, d layers.Desc) (v1.Layer, error) {
	if l, err := store.Layer(d); err == nil {
		return l, nil
	}
	l, err := partial.CompressedToLayer(&cacheLayer{desc: d, art: ic.art, store: store})
	if err != nil {
		return nil, err
	}
	return ic.art.Mountable(l)
}

// cacheLayer is a layer of a registry cache. Its blob is downloaded when
// something reads it, and kept in the store as it is read, so that it is
// downloaded once.
type cacheLayer struct {
	desc  layers.Desc
	art   *registry.CacheArtifact
	store *layers.Store
}

func (l *cacheLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *cacheLayer) DiffID() (v1.Hash, error)            { return l.desc.DiffID, nil }
func (l *cacheLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *cacheLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Descriptor gives the manifest descriptor the layer needs (eStargz
// annotations), as a layer of the store gives it (layers.LayerAnnotations).
func (l *cacheLayer) Descriptor() (*v1.Descriptor, error) {
	return &v1.Descriptor{MediaType: l.desc.MediaType, Size: l.desc.Size,
		Digest: l.desc.Digest, Annotations: l.desc.Annotations()}, nil
}

// Compressed opens the blob in the store when an earlier read kept it
// there, else downloads it, keeping a copy.
func (l *cacheLayer) Compressed() (io.ReadCloser, error) {
	path := l.store.BlobPath(l.desc.Digest)
	if f, err := os.Open(path); err == nil {
		return f, nil
	}
	rc, err := l.art.Open(l.desc.Digest)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Join(l.store.Root, "tmp"), "cache-blob-*")
	if err != nil {
		return rc, nil // read it without keeping it
	}
	return &keepingReader{rc: rc, f: f, h: sha256.New(), want: l.desc, dst: path}, nil
}

// keepingReader passes a download through and writes it to a temporary
// file, which becomes the store's blob when the whole stream was read and
// matched the digest.
type keepingReader struct {
	rc   io.ReadCloser
	f    *os.File // nil once given up or done
	h    hash.Hash
	n    int64
	want layers.Desc
	dst  string
}

func (r *keepingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if r.f != nil && n > 0 {
		if _, werr := r.f.Write(p[:n]); werr != nil {
			r.drop()
		} else {
			r.h.Write(p[:n])
			r.n += int64(n)
		}
	}
	if errors.Is(err, io.EOF) && r.f != nil {
		r.keep()
	}
	return n, err
}

// keep renames the finished file into place if it is the blob wanted.
func (r *keepingReader) keep() {
	f := r.f
	r.f = nil
	err := f.Close()
	sum := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", r.h.Sum(nil))}
	if err == nil && sum == r.want.Digest && r.n == r.want.Size {
		if err = os.Chmod(f.Name(), 0o644); err == nil {
			err = os.Rename(f.Name(), r.dst)
		}
	}
	if err != nil || sum != r.want.Digest || r.n != r.want.Size {
		os.Remove(f.Name())
	}
}

func (r *keepingReader) drop() {
	if r.f != nil {
		r.f.Close()
		os.Remove(r.f.Name())
		r.f = nil
	}
}

func (r *keepingReader) Close() error {
	r.drop()
	return r.rc.Close()
}
