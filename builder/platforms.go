package builder

import (
	"context"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BuildPlatforms builds the Dockerfile once per platform and returns an
// image index of the results (Result.Index); with one platform it is Build.
// Stages without RUN build for any platform; a RUN for a platform the host
// cannot run needs binfmt_misc (see checkRunnable).
func BuildPlatforms(ctx context.Context, opts Options, platforms []v1.Platform) (*Result, error) {
	if len(platforms) <= 1 {
		if len(platforms) == 1 {
			opts.Platform = &platforms[0]
		}
		return Build(ctx, opts)
	}
	rep := &reporter{fn: opts.Progress}
	var (
		adds     []mutate.IndexAddendum
		atts     []mutate.IndexAddendum
		warnings []string
		cache    *cacheExport
	)
	for i := range platforms {
		p := platforms[i]
		o := opts
		o.Platform = &p
		o.labelPlatform, o.reporter = true, rep
		res, err := Build(ctx, o)
		if err != nil {
			return nil, fmt.Errorf("building for %s: %w", platformString(p), err)
		}
		warnings = append(warnings, res.Warnings...)
		if cache == nil {
			cache = res.cache
		} else {
			cache.merge(res.cache)
		}
		adds = append(adds, mutate.IndexAddendum{Add: res.Image,
			Descriptor: v1.Descriptor{Platform: &p}})
		more, err := attestationAddenda(res)
		if err != nil {
			return nil, err
		}
		atts = append(atts, more...)
	}
	idx := mutate.AppendManifests(empty.Index, append(adds, atts...)...)
	if opts.Format == FormatDocker {
		idx = mutate.IndexMediaType(idx, types.DockerManifestList)
	}
	if len(opts.IndexAnnotations) > 0 {
		idx = mutate.Annotations(idx, opts.IndexAnnotations).(v1.ImageIndex)
	}
	return &Result{Index: idx, Warnings: dedupe(warnings), cache: cache}, nil
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// binfmtNames maps an architecture to the name qemu-user's binfmt_misc
// entry has.
var binfmtNames = map[string]string{
	"arm64": "aarch64", "arm": "arm", "amd64": "x86_64", "386": "i386",
	"ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64", "mips64le": "mips64el",
}

// checkRunnable tells whether this host can run programs of platform p in a
// RUN step: natively, or through a qemu-user interpreter registered with
// binfmt_misc. The error names what is missing.
func checkRunnable(p v1.Platform) error {
	return checkRunnableIn(p, "/proc/sys/fs/binfmt_misc")
}

// checkRunnableIn is checkRunnable with binfmt_misc mounted at dir.
func checkRunnableIn(p v1.Platform, dir string) error {
	host := hostPlatform()
	if p.OS == host.OS && p.Architecture == host.Architecture {
		return nil
	}
	if host.Architecture == "amd64" && p.Architecture == "386" {
		return nil
	}
	if p.OS != "linux" {
		return fmt.Errorf("RUN for %s: this host runs only linux programs", platformString(p))
	}
	name, ok := binfmtNames[p.Architecture]
	if !ok {
		return fmt.Errorf("RUN for %s: no emulator is known for %s", platformString(p), p.Architecture)
	}
	entry := dir + "/qemu-" + name
	b, err := os.ReadFile(entry)
	if err != nil || !strings.HasPrefix(string(b), "enabled") {
		return fmt.Errorf("RUN for %s needs qemu-user emulation: %s is not registered "+
			"(install the Debian package qemu-user-static, or avoid RUN in stages "+
			"for that platform, e.g. FROM --platform=$BUILDPLATFORM)", platformString(p), entry)
	}
	if !binfmtFixBinary(string(b)) {
		return fmt.Errorf("RUN for %s: %s lacks the F (fix binary) flag, which running "+
			"inside the image needs", platformString(p), entry)
	}
	return nil
}

// binfmtFixBinary reports whether a binfmt_misc entry has the F flag: the
// interpreter is opened when registered, so it works inside any root.
func binfmtFixBinary(entry string) bool {
	for _, line := range strings.Split(entry, "\n") {
		if f, ok := strings.CutPrefix(line, "flags:"); ok {
			return strings.Contains(f, "F")
		}
	}
	return false
}
