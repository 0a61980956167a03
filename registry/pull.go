package registry

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Pull resolves ref to the image for o's platform. An image index yields
// the manifest that matches the platform; the error for none lists the
// platforms there are. Images on docker.io are looked up on each of
// o.Mirrors first; the next source is tried only when a mirror does not
// have the image or cannot be reached.
//
// Only the manifests and, when asked for, the config are fetched here:
// layer blobs are downloaded when the caller reads them, so an image that
// is only extended and pushed or exported costs no layer downloads. Those
// later requests use ctx, so it must last as long as the image is used.
func Pull(ctx context.Context, ref string, o Options) (v1.Image, error) {
	orig, err := o.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	sources, err := o.sources(orig)
	if err != nil {
		return nil, err
	}
	var skipped []string
	for i, src := range sources {
		img, err := o.pullFrom(ctx, src)
		if err == nil {
			return img, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("pulling %s: %w", fullName(orig), ctx.Err())
		}
		last := i == len(sources)-1
		if !last && (notThere(err) || unreachable(err)) {
			why := "not found"
			if !notThere(err) {
				why = "unreachable"
			}
			skipped = append(skipped, src.Context().RegistryStr()+": "+why)
			continue
		}
		mirror := ""
		if !last {
			mirror = src.Context().RegistryStr()
		}
		err = remoteError("pulling", orig, src, mirror, err)
		if len(skipped) > 0 {
			err = fmt.Errorf("%w (mirrors tried first: %s)", err, strings.Join(skipped, ", "))
		}
		return nil, err
	}
	return nil, fmt.Errorf("pulling %s: no registry to pull from", fullName(orig))
}

// pullFrom fetches the manifest src names and, for an index, the manifest
// of the platform's image.
func (o Options) pullFrom(ctx context.Context, src name.Reference) (v1.Image, error) {
	desc, err := remote.Get(src, o.remoteOptions(ctx)...)
	if err != nil {
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		return desc.Image()
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	// TODO: an index nested in the index is not searched, so an image only
	// reachable that way fails with the platform error.
	child, err := selectManifest(im, o.platform())
	if err != nil {
		return nil, err
	}
	return idx.Image(child.Digest)
}

// sources lists where ref is looked up, in order: for a docker.io image
// each mirror and then Docker Hub, otherwise just ref's own registry.
func (o Options) sources(ref name.Reference) ([]name.Reference, error) {
	if ref.Context().RegistryStr() != dockerHub {
		return []name.Reference{ref}, nil
	}
	var out []name.Reference
	for _, m := range o.Mirrors {
		src, err := o.rehome(ref, m)
		if err != nil {
			return nil, fmt.Errorf("using mirror %q for %s: %w", m, fullName(ref), err)
		}
		out = append(out, src)
	}
	if o.upstream == "" {
		return append(out, ref), nil
	}
	up, err := o.rehome(ref, o.upstream)
	if err != nil {
		return nil, err
	}
	return append(out, up), nil
}

// rehome is ref with its registry replaced by host, which may be written
// as a URL ("http://host:5000/"); an http:// URL makes the host insecure.
func (o Options) rehome(ref name.Reference, host string) (name.Reference, error) {
	var opts []name.Option
	if h, ok := strings.CutPrefix(host, "http://"); ok {
		host = h
		opts = append(opts, name.Insecure)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "https://"), "/")
	if o.isInsecure(host) {
		opts = append(opts, name.Insecure)
	}
	s := host + "/" + ref.Context().RepositoryStr()
	switch r := ref.(type) {
	case name.Digest:
		s += "@" + r.DigestStr()
	default:
		s += ":" + ref.Identifier()
	}
	return name.ParseReference(s, opts...)
}
