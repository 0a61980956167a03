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
	opts, wait := o.pushOptions(ctx)
	err = remote.Write(r, img, opts...)
	wait()
	if err != nil {
		if ctx.Err() != nil {
			return v1.Hash{}, fmt.Errorf("pushing %s: %w", fullName(r), ctx.Err())
		}
		return v1.Hash{}, remoteError("pushing", r, r, "", err)
	}
	return digest, nil
}

// pushOptions are the remote options of a push, with o.Progress fed when
// set; wait returns once the last update has been handed over.
func (o Options) pushOptions(ctx context.Context) (opts []remote.Option, wait func()) {
	opts, wait = o.remoteOptions(ctx), func() {}
	if o.Progress != nil {
		// remote.Write closes updates when it returns, which ends forward.
		updates := make(chan v1.Update, 16)
		finished := make(chan struct{})
		go forward(updates, o.Progress, finished)
		opts = append(opts, remote.WithProgress(updates))
		wait = func() { <-finished }
	}
	return opts, wait
}

// forward hands the updates of a push to fn until the channel is closed.
// go-containerregistry adds to the total as it meets blobs and can count
// some of an index's twice as sent, so the total is never let fall below
// what was sent.
func forward(updates <-chan v1.Update, fn func(sent, total int64), finished chan<- struct{}) {
	defer close(finished)
	for u := range updates {
		if u.Error == nil {
			fn(u.Complete, max(u.Total, u.Complete))
		}
	}
}
