package builder

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ibuild/ibuild/registry"
)

// Output is one place a built image goes, as given with -o/--output.
type Output struct {
	// Type is oci, docker or registry.
	Type string
	// Dest is a directory or file (oci, docker).
	Dest string
	// Tar writes an oci output as a tar file instead of a directory.
	Tar bool
}

// ParseOutput parses a --output value such as "type=oci,dest=out/" or
// "type=docker,dest=img.tar". A bare path means type=local in Docker; ibuild
// takes it as an OCI layout directory.
func ParseOutput(s string) (Output, error) {
	var o Output
	if !strings.Contains(s, "=") {
		return Output{Type: "oci", Dest: s}, nil
	}
	for _, field := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(field, "=")
		switch strings.TrimSpace(k) {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		case "tar":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return Output{}, fmt.Errorf("output %q: tar=%s is not a boolean", s, v)
			}
			o.Tar = b
		case "name", "push", "oci-mediatypes", "compression":
			// accepted for compatibility with buildx; tags come from -t.
		default:
			return Output{}, fmt.Errorf("output %q: unknown key %q", s, k)
		}
	}
	switch o.Type {
	case "oci", "docker":
		if o.Dest == "" {
			return Output{}, fmt.Errorf("output %q: type=%s needs dest=PATH", s, o.Type)
		}
	case "registry", "image":
	case "":
		return Output{}, fmt.Errorf("output %q: missing type=", s)
	default:
		return Output{}, fmt.Errorf("output %q: type %q is not supported (oci, docker, registry)",
			s, o.Type)
	}
	return o, nil
}

// ExportOptions says where Export puts an image.
type ExportOptions struct {
	Root     string
	Tags     []string
	Push     bool
	Outputs  []Output
	Registry registry.Options
	// Index, when set, is exported instead of the image: Result.Index,
	// the image with its attestations or the images of several platforms.
	Index v1.ImageIndex
}

// Export stores the image (or index of images) in the local store under its tags (untagged when
// there are none), writes the requested outputs and pushes to the registry
// when asked. It returns the manifest digest.
func Export(ctx context.Context, img mutate.Appendable, o ExportOptions) (v1.Hash, error) {
	if o.Index != nil {
		img = o.Index
	}
	digest, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("computing image digest: %w", err)
	}
	store, err := registry.OpenImageStore(o.Root)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("opening the image store: %w", err)
	}
	idx, isIndex := img.(v1.ImageIndex)
	if isIndex {
		err = store.SaveIndex(ctx, idx, o.Tags)
	} else {
		err = store.Save(ctx, img.(v1.Image), o.Tags)
	}
	if err != nil {
		return v1.Hash{}, fmt.Errorf("storing the image: %w", err)
	}
	push := o.Push
	for _, out := range o.Outputs {
		switch {
		case out.Type == "registry" || out.Type == "image":
			push = true
		case out.Type == "docker" && isIndex:
			err = errors.New("a docker archive holds one platform; use type=oci for several")
			if one, ok := attestedImage(idx); ok {
				err = registry.WriteDockerTar(ctx, out.Dest, one, o.Tags)
			}
		case out.Type == "docker":
			err = registry.WriteDockerTar(ctx, out.Dest, img.(v1.Image), o.Tags)
		case out.Tar:
			err = registry.WriteOCITar(ctx, out.Dest, img, o.Tags)
		default:
			err = registry.WriteOCILayout(ctx, out.Dest, img, o.Tags)
		}
		if err != nil {
			return v1.Hash{}, fmt.Errorf("writing %s output to %s: %w", out.Type, out.Dest, err)
		}
	}
	if push {
		if len(o.Tags) == 0 {
			return v1.Hash{}, errors.New("pushing needs a name: give one with -t")
		}
		for _, t := range o.Tags {
			if isIndex {
				_, err = registry.PushIndex(ctx, idx, t, o.Registry)
			} else {
				_, err = registry.Push(ctx, img.(v1.Image), t, o.Registry)
			}
			if err != nil {
				return v1.Hash{}, err
			}
		}
	}
	return digest, nil
}
