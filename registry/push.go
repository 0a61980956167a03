package registry

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push uploads img to ref and returns the digest of its manifest. Blobs the
// registry already has are not sent again, and up to o.Jobs blobs go up at
// once. Errors name the reference and the HTTP status, with a hint when the
// cause is credentials or a registry that speaks plain HTTP.
func Push(ctx context.Context, img v1.Image, ref string, o Options) (v1.Hash, error) {
	r, err := o.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing %s: computing the manifest digest: %w",
			fullName(r), err)
	}
	if err := remote.Write(r, img, o.remoteOptions(ctx)...); err != nil {
		if ctx.Err() != nil {
			return v1.Hash{}, fmt.Errorf("pushing %s: %w", fullName(r), ctx.Err())
		}
		return v1.Hash{}, remoteError("pushing", r, r, "", err)
	}
	return digest, nil
}
