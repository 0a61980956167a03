package registry

import (
	"fmt"
	"runtime/debug"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// armVariant is the arm variant this binary was built for (GOARM), v7 when
// the build information does not say.
func armVariant() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "GOARM" && s.Value != "" {
				return "v" + strings.SplitN(s.Value, ",", 2)[0]
			}
		}
	}
	return "v7"
}

// normalVariant maps the variants that mean the same thing to one spelling:
// arm64 is v8 unless said otherwise, and arm is v7.
func normalVariant(arch, variant string) string {
	switch {
	case arch == "arm64" && variant == "":
		return "v8"
	case arch == "arm" && variant == "":
		return "v7"
	}
	return variant
}

// platformMatches reports whether have can run where want is asked for:
// same OS and architecture, and the same variant when want names one.
func platformMatches(want, have v1.Platform) bool {
	if want.OS != have.OS || want.Architecture != have.Architecture {
		return false
	}
	if want.Variant == "" {
		return true
	}
	return normalVariant(want.Architecture, want.Variant) ==
		normalVariant(have.Architecture, have.Variant)
}

// selectManifest picks the image manifest for want from an index: the
// first that matches exactly (variant included), else the first that
// matches. The error lists the platforms the index offers.
func selectManifest(im *v1.IndexManifest, want v1.Platform) (v1.Descriptor, error) {
	var first *v1.Descriptor
	for i, d := range im.Manifests {
		if !d.MediaType.IsImage() || d.Platform == nil {
			continue
		}
		if !platformMatches(want, *d.Platform) {
			continue
		}
		if d.Platform.Variant == want.Variant {
			return d, nil
		}
		if first == nil {
			first = &im.Manifests[i]
		}
	}
	if first != nil {
		return *first, nil
	}
	return v1.Descriptor{}, &PlatformError{Want: want, Available: availablePlatforms(im)}
}

// availablePlatforms lists the runnable platforms of an index, sorted,
// without attestation entries (unknown/unknown).
func availablePlatforms(im *v1.IndexManifest) []string {
	var out []string
	for _, d := range im.Manifests {
		if d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		out = append(out, platformString(*d.Platform))
	}
	sort.Strings(out)
	return out
}

// platformString formats p as os/arch[/variant].
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// PlatformError says that an image index has no image for the platform
// asked for.
type PlatformError struct {
	// Want is the platform asked for.
	Want v1.Platform
	// Available are the platforms the index has, as os/arch[/variant].
	Available []string
}

// Error implements error.
func (e *PlatformError) Error() string {
	avail := "none"
	if len(e.Available) > 0 {
		avail = strings.Join(e.Available, ", ")
	}
	return fmt.Sprintf("no image for platform %s (available: %s)",
		platformString(e.Want), avail)
}
