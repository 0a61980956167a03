package builder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ibuild/ibuild/registry"
)

// A base image pulled from a registry is remembered in
// ROOT/cache/resolved: the manifest digest its tag resolved to. Its
// manifest and config are kept in ROOT/blobs, and its layers get there
// when an image built on it is stored. The next build without --pull then
// uses that image, as Docker uses a base image it already has, with no
// registry round trip; --pull asks the registry again (a moved tag then
// gives a new base key, so the steps on it miss).

// resolvedRecord is the content of a ROOT/cache/resolved file.
type resolvedRecord struct {
	Ref      string    `json:"ref"`
	Platform string    `json:"platform"`
	Digest   v1.Hash   `json:"digest"`
	Resolved time.Time `json:"resolved"`
}

func (b *build) resolvedPath(ref string, p v1.Platform) string {
	n, err := registry.NormalizeTag(ref)
	if err != nil {
		n = ref
	}
	return filepath.Join(b.cache.dir, "resolved", hashStrings(n, platformString(p))[:32])
}

// localBase returns the image ref resolved to when it was last pulled, if
// the store holds its manifest and config. A layer that is not in the
// store is pulled (by digest) when something reads it.
func (b *build) localBase(ref string, p v1.Platform) (v1.Image, bool) {
	raw, err := os.ReadFile(b.resolvedPath(ref, p))
	if err != nil {
		return nil, false
	}
	var rec resolvedRecord
	if json.Unmarshal(raw, &rec) != nil || rec.Platform != platformString(p) {
		return nil, false
	}
	img, err := b.storedImage(rec.Digest, func() (v1.Image, error) {
		return b.pullDigest(ref, rec.Digest, p)
	})
	if err != nil {
		return nil, false
	}
	return img, true
}

// pullDigest pulls the image ref's repository has under digest d.
func (b *build) pullDigest(ref string, d v1.Hash, p v1.Platform) (v1.Image, error) {
	opts := b.opts.Registry
	opts.Platform = &p
	r, err := opts.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	return registry.Pull(b.outer, r.Context().Digest(d.String()).String(), opts)
}

// rememberBase records that ref resolved to img and keeps img's manifest
// and config in the store.
func (b *build) rememberBase(ref string, p v1.Platform, img v1.Image) error {
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	for _, blob := range [][]byte{cfg, raw} {
		h, _, err := v1.SHA256(bytes.NewReader(blob))
		if err != nil {
			return err
		}
		if _, err := os.Stat(b.store.BlobPath(h)); err == nil {
			continue
		}
		if err := b.cache.writeFile(b.store.BlobPath(h), blob); err != nil {
			return err
		}
	}
	d, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	rec, err := json.Marshal(resolvedRecord{Ref: ref, Platform: platformString(p), Digest: d,
		Resolved: time.Now().UTC()})
	if err != nil {
		return err
	}
	return b.cache.writeFile(b.resolvedPath(ref, p), rec)
}

// storedImage reads the image whose manifest digest is d from the store's
// blobs. Its manifest and config must be there; a layer that is not is
// read from the image remote returns, on first use.
func (b *build) storedImage(d v1.Hash, remote func() (v1.Image, error)) (v1.Image, error) {
	raw, err := os.ReadFile(b.store.BlobPath(d))
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(b.store.BlobPath(m.Config.Digest))
	if err != nil {
		return nil, err
	}
	mt := m.MediaType
	if mt == "" {
		mt = types.OCIManifestSchema1
	}
	return partial.CompressedToImage(&blobImage{raw: raw, cfg: cfg, mt: mt, m: m,
		path: b.store.BlobPath, remote: sync.OnceValues(remote)})
}

// blobImage is an image whose blobs are files of the store, or else in
// the registry remote pulls the image from.
type blobImage struct {
	raw, cfg []byte
	mt       types.MediaType
	m        *v1.Manifest
	path     func(v1.Hash) string
	remote   func() (v1.Image, error)
}

func (i *blobImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *blobImage) RawConfigFile() ([]byte, error)      { return i.cfg, nil }
func (i *blobImage) MediaType() (types.MediaType, error) { return i.mt, nil }

// ConfigFile implements partial.WithConfigFile, for BlobToDiffID.
func (i *blobImage) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(i.cfg))
}

// Manifest implements partial.WithManifest, for BlobToDiffID.
func (i *blobImage) Manifest() (*v1.Manifest, error) { return i.m, nil }

// LayerByDigest implements partial.CompressedImageCore.
func (i *blobImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == i.m.Config.Digest {
		return &blobFile{desc: i.m.Config, path: i.path(h), img: i}, nil
	}
	for _, l := range i.m.Layers {
		if l.Digest == h {
			return &blobFile{desc: l, path: i.path(h), img: i}, nil
		}
	}
	return nil, fmt.Errorf("blob %s is not part of image", h)
}

// blobFile is one blob of a blobImage.
type blobFile struct {
	desc v1.Descriptor
	path string
	img  *blobImage
}

func (f *blobFile) Digest() (v1.Hash, error) { return f.desc.Digest, nil }

// DiffID is taken from the config, as reading the layer to learn it would
// cost a decompression.
func (f *blobFile) DiffID() (v1.Hash, error) {
	return partial.BlobToDiffID(f.img, f.desc.Digest)
}

func (f *blobFile) Size() (int64, error)                { return f.desc.Size, nil }
func (f *blobFile) MediaType() (types.MediaType, error) { return f.desc.MediaType, nil }

// Compressed opens the blob in the store, or else in the registry.
func (f *blobFile) Compressed() (io.ReadCloser, error) {
	r, err := os.Open(f.path)
	if !errors.Is(err, fs.ErrNotExist) {
		return r, err
	}
	img, err := f.img.remote()
	if err != nil {
		return nil, fmt.Errorf("pulling layer %s: %w", f.desc.Digest, err)
	}
	l, err := img.LayerByDigest(f.desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("pulling layer %s: %w", f.desc.Digest, err)
	}
	return l.Compressed()
}

// baseChain starts the stage's cache chain at the base image img (local:
// found without asking a registry).
func (s *state) baseChain(img v1.Image, local bool) error {
	d, err := img.Digest()
	if err != nil {
		return err
	}
	s.chain = hashStrings("image", d.String(), platformString(s.stage.platform))
	s.chainAbout, s.cached = "FROM "+s.stage.base+"@"+d.String(), local
	return nil
}
