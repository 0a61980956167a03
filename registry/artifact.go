package registry

import (
	"context"
	"fmt"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// forEachChild calls fn for the index itself (child nil, raw its manifest)
// after calling it for every image and nested index it lists, so that
// children are written before what refers to them.
func forEachChild(idx v1.ImageIndex,
	fn func(d v1.Hash, raw []byte, child mutate.Appendable) error) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("reading the index: %w", err)
	}
	for _, desc := range im.Manifests {
		var child mutate.Appendable
		switch {
		case desc.MediaType.IsIndex():
			child, err = idx.ImageIndex(desc.Digest)
		case desc.MediaType.IsImage():
			child, err = idx.Image(desc.Digest)
		default:
			return fmt.Errorf("index entry %s has media type %s", desc.Digest, desc.MediaType)
		}
		if err != nil {
			return fmt.Errorf("reading index entry %s: %w", desc.Digest, err)
		}
		if err := fn(desc.Digest, nil, child); err != nil {
			return err
		}
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	return fn(d, raw, nil)
}

// SaveIndex stores an image index and every image it lists under tags, as
// Save does for one image. A tag that named an image idx lists moves to
// idx without leaving that image behind untagged: it is the same image.
// Image then resolves a tag that names an index to the image of the host's
// platform (see Image).
func (s *ImageStore) SaveIndex(ctx context.Context, idx v1.ImageIndex, tags []string) error {
	names, err := normalizeAll(tags)
	if err != nil {
		return err
	}
	unlock, err := s.lock("gc.lock", syscall.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	err = forEachChild(idx, func(d v1.Hash, raw []byte, child mutate.Appendable) error {
		switch c := child.(type) {
		case v1.Image:
			_, err := s.writeImage(ctx, c)
			return err
		case v1.ImageIndex:
			return fmt.Errorf("nested index %s is not supported in the store", d)
		}
		return s.writeBytes(raw)
	})
	if err != nil {
		return fmt.Errorf("saving index %s: %w", tagList(tags), err)
	}
	desc, err := indexDescriptor(idx)
	if err != nil {
		return err
	}
	err = s.update(func(ms []v1.Descriptor) ([]v1.Descriptor, error) {
		return setNames(ms, desc, names, s.nested(desc)), nil
	})
	if err != nil {
		return fmt.Errorf("saving index %s: %w", tagList(tags), err)
	}
	return nil
}

func indexDescriptor(idx v1.ImageIndex) (v1.Descriptor, error) {
	mt, err := idx.MediaType()
	if err != nil {
		return v1.Descriptor{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	n, err := idx.Size()
	if err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Digest: d, Size: n}, nil
}

// PushIndex uploads an image index and everything it lists (the images of
// each platform, attestation manifests) to ref and returns the index
// digest, reporting to o.Progress as Push does.
func PushIndex(ctx context.Context, idx v1.ImageIndex, ref string, o Options) (v1.Hash, error) {
	r, err := o.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	d, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: %w", fullName(r), err)
	}
	opts, wait := o.pushOptions(ctx)
	err = remote.WriteIndex(r, idx, opts...)
	wait()
	if err != nil {
		if ctx.Err() != nil {
			return v1.Hash{}, fmt.Errorf("pushing %s: %w", fullName(r), ctx.Err())
		}
		return v1.Hash{}, remoteError("pushing", r, r, "", err)
	}
	return d, nil
}
