package builder

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ibuild/ibuild/registry"
)

// initBase starts the stage from its base: an earlier stage, scratch, or an
// image from the local store or a registry. Base layers are not downloaded
// here; only a step that reads the filesystem does that.
func (s *state) initBase(ctx context.Context, step *stepReport) error {
	sr := s.stage
	switch {
	case sr.parent != nil:
		res, err := s.b.wait(ctx, sr.parent)
		if err != nil {
			return err
		}
		s.cfg = res.cfg.DeepCopy()
		s.layers = cloneLayers(res.layers)
		s.baseLayers = res.baseLayers
		s.startInterval = res.startInterval
		s.chain, s.chainAbout, s.cached = res.key, res.about, true
	case strings.EqualFold(sr.base, "scratch"):
		s.cfg = scratchConfig(sr.platform)
		s.chain = hashStrings("scratch", platformString(sr.platform))
		s.chainAbout, s.cached = "FROM scratch", true
	default:
		img, local, err := s.b.resolveImage(ctx, sr.base, sr.platform, step)
		if err != nil {
			return err
		}
		s.b.attest.image(sr.base, sr.platform, img)
		if err := s.fromImage(img); err != nil {
			return fmt.Errorf("reading base image %s: %w", sr.base, err)
		}
		if err := s.baseChain(img, local); err != nil {
			return fmt.Errorf("reading base image %s: %w", sr.base, err)
		}
		s.baseLayers = len(s.layers)
		s.checkBasePlatform()
	}
	if _, ok := envList(s.cfg.Config.Env).Get("PATH"); !ok {
		s.cfg.Config.Env = append(s.cfg.Config.Env, "PATH="+defaultPath)
	}
	s.env = slices.Clone(envList(s.cfg.Config.Env))
	return nil
}

func cloneLayers(in []*layerRef) []*layerRef {
	out := make([]*layerRef, len(in))
	for i, l := range in {
		c := *l
		out[i] = &c
	}
	return out
}

func scratchConfig(p v1.Platform) *v1.ConfigFile {
	return &v1.ConfigFile{
		OS: p.OS, Architecture: p.Architecture, Variant: p.Variant,
		RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{WorkingDir: "/"},
	}
}

// fromImage takes the config and layers of a base image. Only the config
// fields of the Docker and OCI image specs are kept, as Docker does.
func (s *state) fromImage(img v1.Image) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if s.startInterval, err = readStartInterval(img); err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	cfg := cf.DeepCopy()
	c := cfg.Config
	cfg.Config = v1.Config{
		User: c.User, ExposedPorts: c.ExposedPorts, Env: c.Env, Entrypoint: c.Entrypoint,
		Cmd: c.Cmd, Volumes: c.Volumes, WorkingDir: c.WorkingDir, Labels: c.Labels,
		StopSignal: c.StopSignal, ArgsEscaped: c.ArgsEscaped, Healthcheck: c.Healthcheck,
		OnBuild: c.OnBuild, Shell: c.Shell,
	}
	cfg.Container, cfg.DockerVersion = "", ""
	if len(cfg.RootFS.DiffIDs) != len(ls) {
		return fmt.Errorf("config lists %d layers, manifest %d", len(cfg.RootFS.DiffIDs), len(ls))
	}
	s.cfg = cfg
	for _, l := range ls {
		s.layers = append(s.layers, &layerRef{layer: l})
	}
	return nil
}

// baseImage finds ref in the local store first (as Docker does), unless
// --pull asks for the registry, and pulls it otherwise.
func (b *build) baseImage(ctx context.Context, ref string, p v1.Platform,
	step *stepReport) (v1.Image, error) {
	img, _, err := b.resolveImage(ctx, ref, p, step)
	if err == nil {
		b.attest.image(ref, p, img)
	}
	return img, err
}

// resolveImage is baseImage; local says no registry was asked: the image
// is in the store, or was pulled before and all its blobs are in the store
// (see localBase).
func (b *build) resolveImage(ctx context.Context, ref string, p v1.Platform,
	step *stepReport) (v1.Image, bool, error) {
	if !b.opts.Pull {
		img, err := b.images.Image(ref)
		if err == nil {
			if ok, err := platformMatches(img, p); err != nil || ok {
				return img, true, err
			}
		} else if !errors.Is(err, registry.ErrNotFound) {
			return nil, false, fmt.Errorf("looking up %s in the local store: %w", ref, err)
		}
		if img, ok := b.localBase(ref, p); ok {
			return img, true, nil
		}
	}
	step.status("resolving " + ref)
	opts := b.opts.Registry
	opts.Platform = &p
	img, err := registry.Pull(b.outer, ref, opts)
	if err != nil {
		return nil, false, err
	}
	if err := b.rememberBase(ref, p, img); err != nil {
		b.warn(fmt.Sprintf("build cache: remembering base image %s: %v", ref, err))
	}
	return img, false, nil
}

func platformMatches(img v1.Image, p v1.Platform) (bool, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return false, err
	}
	return cf.OS == p.OS && cf.Architecture == p.Architecture, nil
}

// checkBasePlatform warns, as BuildKit does, when the base image is for
// another platform than the stage (a single-platform image cannot be
// chosen by platform), and records the stage's platform in the config:
// the image is the stage's platform's, whatever its base said.
func (s *state) checkBasePlatform() {
	p := s.stage.platform
	if s.cfg.OS != p.OS || s.cfg.Architecture != p.Architecture ||
		(p.Variant != "" && s.cfg.Variant != "" && s.cfg.Variant != p.Variant) {
		got := v1.Platform{OS: s.cfg.OS, Architecture: s.cfg.Architecture, Variant: s.cfg.Variant}
		s.b.warn(fmt.Sprintf("InvalidBaseImagePlatform: base image %s was pulled with platform %q, "+
			"expected %q for the stage", s.stage.base, platformString(got), platformString(p)))
	}
	s.cfg.OS, s.cfg.Architecture = p.OS, p.Architecture
	if p.Variant != "" {
		s.cfg.Variant = p.Variant
	}
}
