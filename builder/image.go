package builder

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// image assembles a stage result into an OCI image: base layers are kept as
// the descriptors they came with (nothing is downloaded), new layers point
// at the store.
func (b *build) image(res *stageResult) (v1.Image, error) {
	cfg := res.cfg.DeepCopy()
	if len(b.opts.Labels) > 0 && cfg.Config.Labels == nil {
		cfg.Config.Labels = map[string]string{}
	}
	for k, v := range b.opts.Labels {
		cfg.Config.Labels[k] = v
	}
	created := time.Now().UTC()
	if b.opts.Epoch != nil {
		created = *b.opts.Epoch
	}
	cfg.Created = v1.Time{Time: created}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(res.layers))
	for _, l := range res.layers {
		mt, err := l.layer.MediaType()
		if err != nil {
			return nil, fmt.Errorf("reading layer media type: %w", err)
		}
		adds = append(adds, mutate.Addendum{Layer: l.layer, MediaType: ociLayerType(mt)})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("assembling image: %w", err)
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("writing image config: %w", err)
	}
	return img, nil
}

// ociLayerType maps Docker layer media types to their OCI equivalents, as
// BuildKit does when it writes an OCI manifest.
func ociLayerType(mt types.MediaType) types.MediaType {
	switch mt {
	case types.DockerLayer:
		return types.OCILayer
	case types.DockerUncompressedLayer:
		return types.OCIUncompressedLayer
	case types.DockerForeignLayer:
		return types.OCIRestrictedLayer
	}
	return mt
}
