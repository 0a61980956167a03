package builder

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ibuild/ibuild/layers"
)

// The image formats Options.Format accepts.
const (
	FormatOCI    = "oci"
	FormatDocker = "docker"
)

// The squash modes Options.Squash accepts.
const (
	SquashNew = "new" // the build's layers become one layer on the base
	SquashAll = "all" // the whole image becomes one layer
)

// finish applies what the options ask of the finished image: squashing,
// the Docker format, and annotations.
func (b *build) finish(ctx context.Context, img v1.Image, res *stageResult) (v1.Image, error) {
	var err error
	switch b.opts.Squash {
	case "":
	case SquashNew, SquashAll:
		if img, err = b.squash(ctx, img, res); err != nil {
			return nil, fmt.Errorf("squashing layers: %w", err)
		}
	default:
		return nil, fmt.Errorf("unknown squash mode %q", b.opts.Squash)
	}
	switch b.opts.Format {
	case "", FormatOCI:
	case FormatDocker:
		if img, err = dockerFormat(img); err != nil {
			return nil, fmt.Errorf("writing the image in Docker format: %w", err)
		}
	default:
		return nil, fmt.Errorf("unknown image format %q (oci or docker)", b.opts.Format)
	}
	if img, err = withStartInterval(img, res.startInterval); err != nil {
		return nil, fmt.Errorf("writing the healthcheck start interval: %w", err)
	}
	if len(b.opts.Annotations) > 0 {
		img = mutate.Annotations(img, b.opts.Annotations).(v1.Image)
	}
	return img, nil
}

// squash replaces layers by one: the build's own layers (SquashNew, on top
// of the base image's) or all of them (SquashAll). The history keeps every
// entry; only the last one that made a layer still says so.
func (b *build) squash(ctx context.Context, img v1.Image, res *stageResult) (v1.Image, error) {
	keep := res.baseLayers
	if b.opts.Squash == SquashAll {
		keep = 0
	}
	if len(res.layers)-keep < 2 {
		return img, nil
	}
	d, err := b.mergedLayer(ctx, res, keep)
	if err != nil {
		return nil, err
	}
	l, err := b.store.Layer(d)
	if err != nil {
		return nil, err
	}
	cfg := res.cfg.DeepCopy()
	cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs[:keep:keep], d.DiffID)
	squashHistory(cfg.History, keep)
	cur, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg.Created, cfg.Config.Labels = cur.Created, cur.Config.Labels
	out := &stageResult{cfg: cfg, layers: append(res.layers[:keep:keep], &layerRef{layer: l})}
	return b.image(out)
}

// squashHistory marks as empty every layer entry after the first keep ones
// except the last.
func squashHistory(h []v1.History, keep int) {
	seen, last := 0, -1
	for i := range h {
		if !h[i].EmptyLayer {
			if seen >= keep {
				last = i
			}
			seen++
		}
	}
	seen = 0
	for i := range h {
		if !h[i].EmptyLayer {
			if seen >= keep && i != last {
				h[i].EmptyLayer = true
			}
			seen++
		}
	}
}

// mergedLayer writes one layer holding layers[keep:] merged.
func (b *build) mergedLayer(ctx context.Context, res *stageResult, keep int) (layers.Desc, error) {
	if keep == 0 {
		base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		var ls []v1.Layer
		for _, l := range res.layers {
			ls = append(ls, l.layer)
		}
		all, err := mutate.AppendLayers(base, ls...)
		if err != nil {
			return layers.Desc{}, err
		}
		return b.store.WriteLayer(ctx, b.writeOptions(), func(tw *tar.Writer) error {
			return copyTar(tw, mutate.Extract(all))
		})
	}
	s := &state{b: b, layers: res.layers[keep:]}
	top, err := s.unpackAll(ctx)
	if err != nil {
		return layers.Desc{}, err
	}
	tmp, err := os.MkdirTemp(filepath.Join(b.opts.Root, "tmp"), "squash-")
	if err != nil {
		return layers.Desc{}, err
	}
	defer os.RemoveAll(tmp)
	dirs := make([]string, 0, len(top))
	for i := len(top) - 1; i >= 0; i-- {
		dirs = append(dirs, top[i])
	}
	merged := filepath.Join(tmp, "merged")
	if err := layers.MergeLayers(merged, dirs...); err != nil {
		return layers.Desc{}, err
	}
	return b.store.WriteLayer(ctx, b.writeOptions(), func(tw *tar.Writer) error {
		return layers.DiffUpper(ctx, merged, tw, layers.DiffOptions{Epoch: b.opts.Epoch})
	})
}

// copyTar copies every entry of the tar stream rc into tw.
func copyTar(tw *tar.Writer, rc io.ReadCloser) error {
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}

// dockerFormat rewrites img with Docker's media types (manifest v2
// schema 2), as `docker build` with the classic image store writes it.
func dockerFormat(img v1.Image) (v1.Image, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	out := mutate.MediaType(empty.Image, types.DockerManifestSchema2)
	out = mutate.ConfigMediaType(out, types.DockerConfigJSON)
	adds := make([]mutate.Addendum, 0, len(ls))
	for _, l := range ls {
		mt, err := l.MediaType()
		if err != nil {
			return nil, err
		}
		dt, err := dockerLayerType(mt)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: typed(l, dt), MediaType: dt})
	}
	if out, err = mutate.Append(out, adds...); err != nil {
		return nil, err
	}
	return mutate.ConfigFile(out, cfg)
}

func dockerLayerType(mt types.MediaType) (types.MediaType, error) {
	switch mt {
	case types.OCILayer, types.DockerLayer:
		return types.DockerLayer, nil
	case types.OCIUncompressedLayer, types.DockerUncompressedLayer:
		return types.DockerUncompressedLayer, nil
	case types.OCIRestrictedLayer, types.DockerForeignLayer:
		return types.DockerForeignLayer, nil
	}
	return "", fmt.Errorf("layer type %s has no Docker equivalent (use --format oci)", mt)
}
