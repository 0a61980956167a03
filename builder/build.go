package builder

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ibuild/ibuild/layers"
	"github.com/ibuild/ibuild/registry"
)

// Options describes one build. The zero value is not useful: ContextDir,
// Dockerfile and Root must be set.
type Options struct {
	// ContextDir is the build context directory.
	ContextDir string
	// Dockerfile is the Dockerfile's content and DockerfileName the name used
	// in messages (and to find NAME.dockerignore beside it).
	Dockerfile     []byte
	DockerfileName string
	// DockerfilePath is the Dockerfile's path on disk, "" when read from stdin.
	DockerfilePath string

	BuildArgs map[string]string
	Labels    map[string]string
	Target    string
	// Platform is the target platform; nil means the host's.
	Platform *v1.Platform

	// NoCache builds every step without looking in the cache; results are
	// still stored. NoCacheFilter does that for the stages it names.
	NoCache       bool
	NoCacheFilter []string
	// DebugCache reports why each step was not taken from the cache.
	DebugCache bool
	Pull       bool
	// CacheFrom are registry caches to take step results from when the
	// local cache has none (--cache-from); CacheTo where ExportCache
	// pushes this build's (--cache-to). See cacheregistry.go.
	CacheFrom []RegistryCache
	CacheTo   []RegistryCache
	// Network is the default network mode of RUN steps: "host" or "none".
	Network string

	// Root is the store directory (blobs, unpacked layers, images, cache).
	Root string
	// Registry configures pulls of base images.
	Registry registry.Options
	// Compression of new layers; "" means gzip. CompressionLevel 0 means
	// the compression's default.
	Compression      layers.Compression
	CompressionLevel int
	// Epoch, when set, pins timestamps (SOURCE_DATE_EPOCH).
	Epoch *time.Time

	// Format is the image format: FormatOCI (the default) or FormatDocker.
	Format string
	// Squash merges layers: SquashNew or SquashAll; "" keeps them.
	Squash string
	// Annotations go on the image manifest; IndexAnnotations on the index
	// of a build for several platforms.
	Annotations      map[string]string
	IndexAnnotations map[string]string

	// Attest asks for an SBOM and provenance of the image (attest_*.go).
	Attest AttestOptions

	// Secrets are the build secrets by id, for RUN --mount=type=secret.
	Secrets map[string]Secret
	// SSH maps an id to an SSH agent socket, for RUN --mount=type=ssh
	// (--ssh ID=SOCKET; "default" is the id a mount uses when it names none).
	SSH map[string]string

	// labelPlatform puts the platform in step names, for builds of several
	// platforms (set by BuildPlatforms).
	labelPlatform bool
	// reporter, when set, numbers the steps of several builds as one.
	reporter *reporter

	// Progress receives build events; nil discards them.
	Progress func(Event)
}

// Result is what a successful build produced.
type Result struct {
	// Image is the built image; Index, from BuildPlatforms for several
	// platforms, holds one image per platform instead. With attestations
	// (Options.Attest), Index holds the image and its attestation manifest.
	Image    v1.Image
	Index    v1.ImageIndex
	Warnings []string

	// cache is what ExportCache pushes (Options.CacheTo), or nil.
	cache *cacheExport
}

// Build runs the build that opts describes and returns the target stage's
// image. It writes blobs and unpacked layers into the store but tags
// nothing; see Export.
func Build(ctx context.Context, opts Options) (*Result, error) {
	started := time.Now()
	if opts.DockerfileName == "" {
		opts.DockerfileName = "Dockerfile"
	}
	if opts.Platform == nil {
		p := hostPlatform()
		opts.Platform = &p
	}
	if opts.Network == "" {
		opts.Network = "host"
	}
	// Sources, and the ignore file beside the Dockerfile, are resolved with
	// securejoin, which refuses a root with ".." in it ("ibuild ../app").
	for _, p := range []*string{&opts.ContextDir, &opts.DockerfilePath} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", *p, err)
		}
		*p = abs
	}
	df, err := parseDockerfile(opts.DockerfileName, opts.Dockerfile)
	if err != nil {
		return nil, err
	}
	b, err := newBuild(ctx, opts, df)
	if err != nil {
		return nil, err
	}
	defer b.close()
	b.startCacheImport()
	b.startCacheExport()
	img, err := b.run(ctx)
	if err != nil {
		return nil, err
	}
	b.cache.from.caches() // its warnings belong to this build
	res := &Result{Image: img, Warnings: b.allWarnings(), cache: b.cache.out}
	if err := b.attestations(ctx, res, started); err != nil {
		return nil, err
	}
	return res, nil
}

func hostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// platformString formats p as os/arch[/variant].
func platformString(p v1.Platform) string {
	s := fmt.Sprintf("%s/%s", p.OS, p.Architecture)
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
