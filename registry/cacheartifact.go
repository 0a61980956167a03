package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A build cache artifact, as --cache-to type=registry writes it, is an OCI
// image manifest whose config is the builder's list of cache records
// (media type MediaTypeCacheConfig) and whose layers are the layer blobs
// those records name. This package moves it; package builder gives the
// config its meaning.

// MediaTypeCacheConfig is the config media type of a build cache artifact.
const MediaTypeCacheConfig types.MediaType = "application/vnd.ibuild.cache.config.v1+json"

// mediaTypeBuildKitCache is the config media type of BuildKit's registry
// cache, named in the error for a cache ibuild cannot read.
const mediaTypeBuildKitCache = "application/vnd.buildkit.cacheconfig.v0"

// maxCacheConfig bounds the config blob PullCache reads.
const maxCacheConfig = 64 << 20

// CacheArtifact is a build cache artifact read from a registry: its config
// and the descriptors of its layers. Layer blobs are fetched only through
// Open, one at a time, when the builder needs them.
type CacheArtifact struct {
	// Ref is the reference the artifact was read from, by digest.
	Ref name.Digest
	// Config is the raw config blob.
	Config []byte
	// Layers are the manifest's layer descriptors, annotations included.
	Layers []v1.Descriptor

	ctx  context.Context
	opts Options
}

// PullCache fetches the manifest and config of the cache artifact at ref.
// ctx must last as long as the artifact's layers are opened.
func PullCache(ctx context.Context, ref string, o Options) (*CacheArtifact, error) {
	r, err := o.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, o.remoteOptions(ctx)...)
	if err != nil {
		return nil, remoteError("reading cache", r, r, "", err)
	}
	if desc.MediaType != types.OCIManifestSchema1 && desc.MediaType != types.DockerManifestSchema2 {
		return nil, fmt.Errorf("reading cache %s: a %s is not an ibuild cache", fullName(r),
			desc.MediaType)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		return nil, fmt.Errorf("reading cache %s: %w", fullName(r), err)
	}
	switch {
	case m.Config.MediaType == mediaTypeBuildKitCache:
		return nil, fmt.Errorf("reading cache %s: this is a BuildKit cache, which ibuild "+
			"cannot read", fullName(r))
	case m.Config.MediaType != MediaTypeCacheConfig:
		return nil, fmt.Errorf("reading cache %s: an image with config %s is not an ibuild "+
			"cache", fullName(r), m.Config.MediaType)
	case m.Config.Size > maxCacheConfig:
		return nil, fmt.Errorf("reading cache %s: its config has %d bytes, more than %d",
			fullName(r), m.Config.Size, maxCacheConfig)
	}
	a := &CacheArtifact{Ref: r.Context().Digest(desc.Digest.String()), Layers: m.Layers,
		ctx: ctx, opts: o}
	if a.Config, err = a.readBlob(m.Config); err != nil {
		return nil, fmt.Errorf("reading cache %s: config: %w", fullName(r), err)
	}
	return a, nil
}

// readBlob reads the small blob d describes whole, checking its digest.
func (a *CacheArtifact) readBlob(d v1.Descriptor) ([]byte, error) {
	rc, err := a.Open(d.Digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, d.Size+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != d.Size {
		return nil, fmt.Errorf("blob %s has %d bytes, the manifest says %d", d.Digest, len(b),
			d.Size)
	}
	return b, nil
}

// Open starts a download of the blob d of the artifact's repository. The
// stream fails at its end when the content does not match d.
func (a *CacheArtifact) Open(d v1.Hash) (io.ReadCloser, error) {
	l, err := remote.Layer(a.Ref.Context().Digest(d.String()), a.opts.remoteOptions(a.ctx)...)
	if err != nil {
		return nil, remoteError("fetching blob "+d.String()+" of", a.Ref, a.Ref, "", err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, remoteError("fetching blob "+d.String()+" of", a.Ref, a.Ref, "", err)
	}
	return rc, nil
}

// Mountable returns l, whose blob is also in the artifact's repository, so
// that a push to another repository of the same registry mounts the blob
// there instead of uploading it.
func (a *CacheArtifact) Mountable(l v1.Layer) (v1.Layer, error) {
	d, err := l.Digest()
	if err != nil {
		return nil, err
	}
	return &remote.MountableLayer{Layer: l, Reference: a.Ref.Context().Digest(d.String())}, nil
}

// CacheBlob is one layer of a cache artifact to push.
type CacheBlob struct {
	Layer       v1.Layer
	Annotations map[string]string
	// MountFrom, when set, names an image whose repository holds the blob
	// (the image just pushed): the registry is asked to mount it from there.
	MountFrom string
}

// PushCache pushes a cache artifact with the given config and layers to ref
// and returns its manifest digest. Blobs the repository already has are not
// sent again, and blobs of another repository of the same registry are
// mounted.
func PushCache(ctx context.Context, ref string, config []byte, blobs []CacheBlob,
	o Options) (v1.Hash, error) {
	r, err := o.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	img, err := newCacheImage(config, blobs, o)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing cache to %s: %w", fullName(r), err)
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing cache to %s: %w", fullName(r), err)
	}
	if err := remote.Write(r, img, o.remoteOptions(ctx)...); err != nil {
		if ctx.Err() != nil {
			return v1.Hash{}, fmt.Errorf("pushing cache to %s: %w", fullName(r), ctx.Err())
		}
		return v1.Hash{}, remoteError("pushing cache to", r, r, "", err)
	}
	return d, nil
}

// cacheImage is a cache artifact as a v1.Image for remote.Write. Layers
// returns the layers as given, so that remote.Write sees which of them it
// can mount.
type cacheImage struct {
	v1.Image
	layers []v1.Layer
}

func (i *cacheImage) Layers() ([]v1.Layer, error) { return i.layers, nil }

func newCacheImage(config []byte, blobs []CacheBlob, o Options) (*cacheImage, error) {
	core := &cacheCore{config: static.NewLayer(config, MediaTypeCacheConfig),
		byDigest: map[v1.Hash]v1.Layer{}}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
	cd, err := partial.Descriptor(core.config)
	if err != nil {
		return nil, err
	}
	m.Config = *cd
	out := &cacheImage{}
	for _, b := range blobs {
		d, err := partial.Descriptor(b.Layer)
		if err != nil {
			return nil, err
		}
		desc := v1.Descriptor{MediaType: d.MediaType, Size: d.Size, Digest: d.Digest,
			Annotations: b.Annotations}
		if _, dup := core.byDigest[desc.Digest]; dup {
			continue
		}
		l := b.Layer
		if _, ok := l.(*remote.MountableLayer); !ok && b.MountFrom != "" {
			if from, err := o.ParseReference(b.MountFrom); err == nil {
				l = &remote.MountableLayer{Layer: l,
					Reference: from.Context().Digest(desc.Digest.String())}
			}
		}
		core.byDigest[desc.Digest] = l
		m.Layers = append(m.Layers, desc)
		out.layers = append(out.layers, l)
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	core.raw = raw
	if out.Image, err = partial.CompressedToImage(core); err != nil {
		return nil, err
	}
	return out, nil
}

// cacheCore is the partial.CompressedImageCore of a cacheImage.
type cacheCore struct {
	raw      []byte
	config   v1.Layer
	byDigest map[v1.Hash]v1.Layer
}

func (c *cacheCore) RawManifest() ([]byte, error) { return c.raw, nil }

func (c *cacheCore) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (c *cacheCore) RawConfigFile() ([]byte, error) {
	rc, err := c.config.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func (c *cacheCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if d, err := c.config.Digest(); err == nil && d == h {
		return c.config, nil
	}
	if l, ok := c.byDigest[h]; ok {
		return l, nil
	}
	return nil, fmt.Errorf("blob %s is not part of the cache", h)
}
