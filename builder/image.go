package builder

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ibuild/ibuild/layers"
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
	cfg.Created = v1.Time{Time: imageCreated(cfg, b.opts.Epoch)}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(res.layers))
	for _, l := range res.layers {
		mt, err := l.layer.MediaType()
		if err != nil {
			return nil, fmt.Errorf("reading layer media type: %w", err)
		}
		adds = append(adds, mutate.Addendum{Layer: typed(l.layer, ociLayerType(mt)),
			MediaType:   ociLayerType(mt),
			Annotations: layers.LayerAnnotations(l.layer)})
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

// typedLayer is a layer shown under another media type, as a manifest that
// converts a base image's Docker layers to OCI ones lists them.
type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l typedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// typed returns l under media type mt.
func typed(l v1.Layer, mt types.MediaType) v1.Layer {
	if cur, err := l.MediaType(); err == nil && cur == mt {
		return l
	}
	return typedLayer{Layer: l, mt: mt}
}
