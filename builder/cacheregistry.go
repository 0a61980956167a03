package builder

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ibuild/ibuild/layers"
)

// The registry cache (--cache-to, --cache-from type=registry) carries the
// instruction cache between machines that share nothing but a registry.
// After a build, ExportCache pushes one artifact (see registry.PushCache):
// an OCI image manifest whose config is a cacheConfig and whose layers are
// the blobs its records name, plus with mode=max the contents of the
// RUN --mount=type=cache directories, one tar layer each. A build with
// --cache-from reads the manifests and configs (small) when it starts and
// looks a step up there when the local cache has nothing for it. Keys chain
// through layer diff IDs (see advance), so each step is looked up on its
// own: a step that runs again and makes the same layer lets the steps after
// it hit again. A hit's layer stays in the registry until something reads
// it (a RUN that unpacks it, an export); it is then kept in the store.

// The cache modes of --cache-to, as in buildx.
const (
	CacheModeMin = "min" // the steps whose layers are in the image
	CacheModeMax = "max" // the steps of every stage, and the cache mounts
)

// RegistryCache is a build cache in a registry, given with --cache-from or
// --cache-to as type=registry,ref=REF.
type RegistryCache struct {
	// Ref is the cache artifact's reference, such as reg.example/app:cache.
	Ref string
	// Mode is CacheModeMin (the default) or CacheModeMax; only for export.
	Mode string
	// IgnoreError makes a failed export a warning instead of an error.
	IgnoreError bool
}

// ParseCacheOption parses a --cache-from or --cache-to value (flag says
// which): "type=registry,ref=REF[,mode=min|max][,ignore-error=true]", or a
// bare REF for type=registry, as buildx reads them.
func ParseCacheOption(flag, s string) (RegistryCache, error) {
	if !strings.Contains(s, "=") {
		return RegistryCache{Ref: s, Mode: CacheModeMin}, nil
	}
	c := RegistryCache{Mode: CacheModeMin}
	fields := strings.Split(s, ",")
	typ := ""
	for _, field := range fields {
		if k, v, _ := strings.Cut(field, "="); strings.TrimSpace(k) == "type" {
			typ = v
		}
	}
	switch typ {
	case "registry":
	case "":
		return c, fmt.Errorf("%s %q: missing type=registry", flag, s)
	case "inline":
		return c, fmt.Errorf("%s %q: cache type \"inline\" is not supported: ibuild keeps no "+
			"cache in the image; use type=registry,ref=REF", flag, s)
	default:
		return c, fmt.Errorf("%s %q: cache type %q is not supported (only type=registry)",
			flag, s, typ)
	}
	for _, field := range fields {
		k, v, _ := strings.Cut(field, "=")
		switch strings.TrimSpace(k) {
		case "type":
		case "ref":
			c.Ref = v
		case "mode":
			if flag != "--cache-to" {
				return c, fmt.Errorf("%s %q: mode is an option of --cache-to", flag, s)
			}
			if v != CacheModeMin && v != CacheModeMax {
				return c, fmt.Errorf("%s %q: mode=%s: use min or max", flag, s, v)
			}
			c.Mode = v
		case "ignore-error":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return c, fmt.Errorf("%s %q: ignore-error=%s is not a boolean", flag, s, v)
			}
			c.IgnoreError = b
		case "oci-mediatypes", "image-manifest":
			// accepted for buildx compatibility: the cache is always an
			// OCI image manifest.
		default:
			return c, fmt.Errorf("%s %q: unknown key %q", flag, s, k)
		}
	}
	if c.Ref == "" {
		return c, fmt.Errorf("%s %q: missing ref=", flag, s)
	}
	return c, nil
}

// cacheConfig is the config blob of a cache artifact.
type cacheConfig struct {
	// Version is cacheConfigVersion; an artifact of another version is
	// not read.
	Version int           `json:"version"`
	Records []cacheRecord `json:"records"`
	Mounts  []mountRecord `json:"mounts,omitempty"`
}

const cacheConfigVersion = 1

// cacheRecord is one step's result: what the local cache keeps under key
// (see cacheEntry). Layer, when set, is one of the artifact's layers.
type cacheRecord struct {
	Key     string       `json:"key"`
	Layer   *layers.Desc `json:"layer,omitempty"`
	History *v1.History  `json:"history"`
}

// mountRecord is the content of a RUN --mount=type=cache directory: a
// layer of the artifact, annotated with the mount's id too.
type mountRecord struct {
	ID    string      `json:"id"`
	Layer layers.Desc `json:"layer"`
}

// annotationCacheMount, on a cache artifact's layer, names the cache mount
// id whose content the layer holds.
const annotationCacheMount = "com.github.ibuild.cache.mount.id"

// parseCacheConfig reads a cache artifact's config and keeps the records
// whose layers are layers of the artifact, as listed (digest, size and
// media type); anything else in it is dropped.
func parseCacheConfig(raw []byte, listed []v1.Descriptor) (*cacheConfig, error) {
	var c cacheConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("parsing the cache records: %w", err)
	}
	if c.Version != cacheConfigVersion {
		return nil, fmt.Errorf("cache records of version %d; this ibuild reads version %d",
			c.Version, cacheConfigVersion)
	}
	byDigest := map[v1.Hash]v1.Descriptor{}
	for _, d := range listed {
		byDigest[d.Digest] = d
	}
	valid := func(d *layers.Desc) bool {
		l, ok := byDigest[d.Digest]
		return ok && l.Size == d.Size && l.MediaType == d.MediaType && d.MediaType.IsLayer() &&
			d.DiffID.Algorithm == "sha256" && len(d.DiffID.Hex) == 64
	}
	out := &cacheConfig{Version: c.Version}
	for _, r := range c.Records {
		if len(r.Key) != 64 || r.History == nil || (r.Layer != nil && !valid(r.Layer)) {
			continue
		}
		out.Records = append(out.Records, r)
	}
	for _, m := range c.Mounts {
		if m.ID != "" && valid(&m.Layer) {
			out.Mounts = append(out.Mounts, m)
		}
	}
	return out, nil
}
