package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/builder"
	"github.com/ibuild/ibuild/layers"
	"github.com/ibuild/ibuild/registry"
)

// buildFlags are the flags of a build, named as docker build names them.
type buildFlags struct {
	file, target, platform, iidfile, progress, network, root    string
	metadataFile, compression, timestamp                        string
	tags, buildArgs, labels, outputs, mirrors, insecure, secret []string
	noCache, pull, quiet, push                                  bool
	noCacheFilter                                               []string
	debugCache                                                  bool
	// image format and layout (issue: reproducible images and formats)
	format, squashMode string
	annotations        []string
	squash, squashAll  bool
	compressionLevel   int
	ssh                []string
	// attestations (issue 11): --sbom, --provenance, --attest
	sbom, provenance string
	attest           []string
	// registry cache (issue 6): --cache-from, --cache-to
	cacheFrom, cacheTo []string
}

func (f *buildFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "",
		"Dockerfile path (default CONTEXT/Dockerfile; - reads stdin)")
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name and optional tag of the image (repeatable)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil,
		"build-time variable KEY=VALUE, or KEY to take it from the environment")
	fl.StringVar(&f.target, "target", "", "build this stage and the stages it needs")
	fl.StringArrayVar(&f.labels, "label", nil, "label KEY=VALUE for the image (repeatable)")
	fl.StringVar(&f.platform, "platform", "",
		"target platform os/arch[/variant] (default: this machine's)")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the build cache")
	fl.StringArrayVar(&f.noCacheFilter, "no-cache-filter", nil,
		"do not use the build cache for this stage (repeatable)")
	fl.BoolVar(&f.debugCache, "debug-cache", false,
		"say why each step was not taken from the build cache")
	fl.BoolVar(&f.pull, "pull", false, "always look up base images in their registry")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image ID to this file")
	fl.StringVar(&f.metadataFile, "metadata-file", "", "write build results as JSON to this file")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	fl.BoolVar(&f.push, "push", false, "push the image to its registry (same as -o type=registry)")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil,
		"output: type=oci,dest=DIR | type=oci,dest=F.tar,tar=true | "+
			"type=docker,dest=F.tar | type=registry")
	fl.StringArrayVar(&f.mirrors, "registry-mirror", nil,
		"registry HOST[:PORT] tried first for Docker Hub images (repeatable)")
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil,
		"registry HOST[:PORT] reached over plain HTTP (repeatable)")
	fl.StringArrayVar(&f.secret, "secret", nil,
		"secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR")
	fl.StringArrayVar(&f.ssh, "ssh", nil,
		"SSH agent for RUN --mount=type=ssh: default, or ID=SOCKET (repeatable)")
	fl.StringVar(&f.progress, "progress", "auto",
		"progress output: auto, plain, tty, quiet, rawjson")
	fl.StringVar(&f.network, "network", "host", "network of RUN steps: host or none")
	fl.StringVar(&f.root, "root", "", "store directory (default "+defaultRoot()+")")
	fl.StringVar(&f.compression, "compression", "gzip",
		"layer compression: gzip, zstd, estargz, uncompressed")
	fl.StringVar(&f.format, "format", "oci", "image format: oci or docker (media types)")
	fl.StringArrayVar(&f.annotations, "annotation", nil,
		"annotation [manifest:|index:]KEY=VALUE (repeatable)")
	fl.BoolVar(&f.squash, "squash", false,
		"merge the layers the build made into one layer on the base image")
	fl.BoolVar(&f.squashAll, "squash-all", false,
		"merge all layers, the base image's too, into one")
	fl.IntVar(&f.compressionLevel, "compression-level", 0,
		"compression level (0: the default of the compression)")
	fl.StringVar(&f.timestamp, "timestamp", "",
		"pin timestamps to this Unix time (default $SOURCE_DATE_EPOCH)")
	fl.StringVar(&f.sbom, "sbom", "", "attach an SBOM: --sbom (SPDX 2.3 JSON) or --sbom=cyclonedx")
	fl.Lookup("sbom").NoOptDefVal = "spdx"
	fl.StringVar(&f.provenance, "provenance", "",
		"attach SLSA v1 provenance: --provenance or --provenance=mode=max")
	fl.Lookup("provenance").NoOptDefVal = "true"
	fl.StringArrayVar(&f.attest, "attest", nil,
		"attestation: type=sbom[,format=cyclonedx] or type=provenance (repeatable)")
	fl.StringArrayVar(&f.cacheFrom, "cache-from", nil,
		"registry cache to use: type=registry,ref=REF (repeatable)")
	fl.StringArrayVar(&f.cacheTo, "cache-to", nil,
		"registry cache to write: type=registry,ref=REF[,mode=min|max] (repeatable)")
}

// options turns the flags into builder options.
func (f *buildFlags) options(contextDir string, stdin io.Reader) (builder.Options, error) {
	o := builder.Options{ContextDir: contextDir, Target: f.target, NoCache: f.noCache,
		NoCacheFilter: f.noCacheFilter, DebugCache: f.debugCache,
		Pull: f.pull, Network: f.network, Root: f.storeRoot(),
		Compression: layers.Compression(f.compression)}
	var err error
	if o.BuildArgs, err = keyValues(f.buildArgs, "--build-arg", true); err != nil {
		return o, err
	}
	if o.Labels, err = keyValues(f.labels, "--label", false); err != nil {
		return o, err
	}
	ps, err := f.platforms()
	if err != nil {
		return o, err
	}
	if len(ps) == 1 {
		o.Platform = &ps[0]
	}
	if err := f.imageOptions(&o); err != nil {
		return o, err
	}
	if o.Secrets, err = parseSecrets(f.secret); err != nil {
		return o, err
	}
	if o.SSH, err = parseSSH(f.ssh); err != nil {
		return o, err
	}
	if o.Epoch, err = f.epoch(); err != nil {
		return o, err
	}
	switch f.network {
	case "host", "none", "default":
	default:
		return o, usageError{fmt.Errorf("--network %q: use host or none", f.network)}
	}
	switch o.Compression {
	case layers.Gzip, layers.Zstd, layers.Uncompressed, layers.Estargz:
	default:
		return o, usageError{fmt.Errorf("--compression %q: use gzip, zstd, estargz or "+
			"uncompressed", f.compression)}
	}
	o.Registry = f.registryOptions()
	if err := f.cacheOptions(&o); err != nil {
		return o, err
	}
	if o.Attest, err = builder.ParseAttestFlags(f.sbom, f.provenance, f.attest); err != nil {
		return o, usageError{err}
	}
	o.Attest.Names, o.Attest.Version = f.tags, version
	// The Dockerfile last: a wrong flag is reported before a missing file.
	o.Dockerfile, o.DockerfileName, o.DockerfilePath, err = f.readDockerfile(contextDir, stdin)
	if err != nil {
		return o, err
	}
	return o, nil
}

func (f *buildFlags) registryOptions() registry.Options {
	return registry.Options{Mirrors: f.mirrors, Insecure: f.insecure}
}

func (f *buildFlags) storeRoot() string {
	if f.root != "" {
		return f.root
	}
	return defaultRoot()
}

func (f *buildFlags) readDockerfile(contextDir string,
	stdin io.Reader) ([]byte, string, string, error) {
	if f.file == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, "", "", fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		return b, "Dockerfile", "", nil
	}
	p := f.file
	if p == "" {
		p = filepath.Join(contextDir, "Dockerfile")
	}
	b, err := readInDir(p)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, "", "", usageError{fmt.Errorf("no Dockerfile at %s (give one with -f)", p)}
		}
		return nil, "", "", fmt.Errorf("reading the Dockerfile: %w", err)
	}
	name := f.file
	if name == "" {
		name = "Dockerfile"
	}
	return b, name, p, nil
}

func (f *buildFlags) epoch() (*time.Time, error) {
	s := f.timestamp
	if s == "" {
		s = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if s == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return nil, usageError{fmt.Errorf("timestamp %q is not a Unix time in seconds", s)}
	}
	t := time.Unix(n, 0).UTC()
	return &t, nil
}

// keyValues parses KEY=VALUE flags; with fromEnv, a lone KEY takes its value
// from the environment (and is skipped when the environment lacks it).
func keyValues(in []string, flag string, fromEnv bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range in {
		k, v, ok := strings.Cut(kv, "=")
		if k == "" {
			return nil, usageError{fmt.Errorf("%s %q: missing the name", flag, kv)}
		}
		if !ok {
			if !fromEnv {
				out[k] = ""
				continue
			}
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}

func parseSecrets(in []string) (map[string]builder.Secret, error) {
	out := map[string]builder.Secret{}
	for _, s := range in {
		var id string
		var sec builder.Secret
		for _, field := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(field, "=")
			switch k {
			case "id":
				id = v
			case "src", "source":
				sec.File = v
			case "env":
				sec.Env = v
			case "type":
			default:
				return nil, usageError{fmt.Errorf("--secret %q: unknown key %q", s, k)}
			}
		}
		if id == "" {
			return nil, usageError{fmt.Errorf("--secret %q: missing id=", s)}
		}
		if sec.File == "" && sec.Env == "" {
			sec.Env = id
			if _, ok := os.LookupEnv(id); !ok {
				sec = builder.Secret{File: id}
			}
		}
		out[id] = sec
	}
	return out, nil
}

// defaultRoot is the store directory: /var/lib/ibuild for root, else
// $XDG_DATA_HOME/ibuild or ~/.local/share/ibuild of the invoking user.
func defaultRoot() string {
	if v := os.Getenv("IBUILD_ROOT"); v != "" {
		return v
	}
	if os.Getenv(hostUIDEnv) == "0" || (os.Getenv(hostUIDEnv) == "" && os.Geteuid() == 0) {
		return "/var/lib/ibuild"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "ibuild")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "ibuild-"+strconv.Itoa(os.Getuid()))
	}
	return filepath.Join(home, ".local", "share", "ibuild")
}

// platforms parses --platform: one or several os/arch[/variant], comma
// separated.
func (f *buildFlags) platforms() ([]v1.Platform, error) {
	if f.platform == "" {
		return nil, nil
	}
	var out []v1.Platform
	for _, s := range strings.Split(f.platform, ",") {
		p, err := v1.ParsePlatform(strings.TrimSpace(s))
		if err != nil || p.OS == "" || p.Architecture == "" {
			return nil, usageError{fmt.Errorf("--platform %q: give os/arch[/variant][,…]", f.platform)}
		}
		if err := checkPlatform(*p); err != nil {
			return nil, usageError{fmt.Errorf("--platform %q: %w", f.platform, err)}
		}
		out = append(out, *p)
	}
	return out, nil
}

// imageOptions sets the format, squash, annotation and compression level
// options.
func (f *buildFlags) imageOptions(o *builder.Options) error {
	switch f.format {
	case builder.FormatOCI, builder.FormatDocker:
		o.Format = f.format
		if f.format == builder.FormatDocker && f.compression == string(layers.Zstd) {
			return usageError{fmt.Errorf("--format docker cannot hold zstd layers: " +
				"use --compression gzip, or --format oci")}
		}
	default:
		return usageError{fmt.Errorf("--format %q: use oci or docker", f.format)}
	}
	switch {
	case f.squash && f.squashAll:
		return usageError{fmt.Errorf("--squash and --squash-all exclude each other")}
	case f.squash:
		o.Squash = builder.SquashNew
	case f.squashAll:
		o.Squash = builder.SquashAll
	}
	o.CompressionLevel = f.compressionLevel
	for _, a := range f.annotations {
		where, kv := "manifest", a
		if w, rest, ok := strings.Cut(a, ":"); ok && (w == "manifest" || w == "index") {
			where, kv = w, rest
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return usageError{fmt.Errorf("--annotation %q: give [manifest:|index:]KEY=VALUE", a)}
		}
		m := &o.Annotations
		if where == "index" {
			m = &o.IndexAnnotations
		}
		if *m == nil {
			*m = map[string]string{}
		}
		(*m)[k] = v
	}
	return nil
}

// cacheOptions parses --cache-from and --cache-to.
func (f *buildFlags) cacheOptions(o *builder.Options) error {
	for _, v := range f.cacheFrom {
		c, err := builder.ParseCacheOption("--cache-from", v)
		if err != nil {
			return usageError{err}
		}
		o.CacheFrom = append(o.CacheFrom, c)
	}
	for _, v := range f.cacheTo {
		c, err := builder.ParseCacheOption("--cache-to", v)
		if err != nil {
			return usageError{err}
		}
		o.CacheTo = append(o.CacheTo, c)
	}
	return nil
}

// knownArchs are the architectures Go and the OCI spec name.
var knownArchs = []string{"amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64",
	"mips64le", "mips64", "mipsle", "mips", "loong64", "ppc64", "wasm"}

// checkPlatform refuses platforms ibuild cannot build: an OS other than
// linux, or an architecture with no name in the OCI spec (a typo, usually).
func checkPlatform(p v1.Platform) error {
	if p.OS != "linux" {
		return fmt.Errorf("ibuild builds linux images only, not %s", p.OS)
	}
	best, dist := "", 3
	for _, a := range knownArchs {
		if a == p.Architecture {
			return nil
		}
		if d := editDistance(a, p.Architecture); d < dist {
			best, dist = a, d
		}
	}
	if best != "" {
		return fmt.Errorf("unknown architecture %q (did you mean %s?)", p.Architecture, best)
	}
	return fmt.Errorf("unknown architecture %q (known: %s)", p.Architecture,
		strings.Join(knownArchs, ", "))
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
