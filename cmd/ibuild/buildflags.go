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
}

func (f *buildFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.file, "file", "f", "", "Dockerfile path (default CONTEXT/Dockerfile; - reads stdin)")
	fl.StringArrayVarP(&f.tags, "tag", "t", nil, "name and optional tag of the image (repeatable)")
	fl.StringArrayVar(&f.buildArgs, "build-arg", nil, "build-time variable KEY=VALUE, or KEY to take it from the environment")
	fl.StringVar(&f.target, "target", "", "build this stage and the stages it needs")
	fl.StringArrayVar(&f.labels, "label", nil, "label KEY=VALUE for the image (repeatable)")
	fl.StringVar(&f.platform, "platform", "", "target platform os/arch[/variant] (default: this machine's)")
	fl.BoolVar(&f.noCache, "no-cache", false, "do not use the build cache")
	fl.BoolVar(&f.pull, "pull", false, "always look up base images in their registry")
	fl.StringVar(&f.iidfile, "iidfile", "", "write the image ID to this file")
	fl.StringVar(&f.metadataFile, "metadata-file", "", "write build results as JSON to this file")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the image ID")
	fl.BoolVar(&f.push, "push", false, "push the image to its registry (same as -o type=registry)")
	fl.StringArrayVarP(&f.outputs, "output", "o", nil, "output: type=oci,dest=DIR | type=oci,dest=F.tar,tar=true | type=docker,dest=F.tar | type=registry")
	fl.StringArrayVar(&f.mirrors, "registry-mirror", nil, "registry HOST[:PORT] tried first for Docker Hub images (repeatable)")
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil, "registry HOST[:PORT] reached over plain HTTP (repeatable)")
	fl.StringArrayVar(&f.secret, "secret", nil, "secret for RUN --mount=type=secret: id=ID,src=PATH or id=ID,env=VAR")
	fl.StringVar(&f.progress, "progress", "auto", "progress output: auto, plain, tty, quiet, rawjson")
	fl.StringVar(&f.network, "network", "host", "network of RUN steps: host or none")
	fl.StringVar(&f.root, "root", "", "store directory (default "+defaultRoot()+")")
	fl.StringVar(&f.compression, "compression", "gzip", "layer compression: gzip, zstd, uncompressed")
	fl.StringVar(&f.timestamp, "timestamp", "", "pin timestamps to this Unix time (default $SOURCE_DATE_EPOCH)")
}

// options turns the flags into builder options.
func (f *buildFlags) options(contextDir string, stdin io.Reader) (builder.Options, error) {
	o := builder.Options{ContextDir: contextDir, Target: f.target, NoCache: f.noCache,
		Pull: f.pull, Network: f.network, Root: f.storeRoot(),
		Compression: layers.Compression(f.compression)}
	var err error
	if o.Dockerfile, o.DockerfileName, o.DockerfilePath, err = f.readDockerfile(contextDir, stdin); err != nil {
		return o, err
	}
	if o.BuildArgs, err = keyValues(f.buildArgs, "--build-arg", true); err != nil {
		return o, err
	}
	if o.Labels, err = keyValues(f.labels, "--label", false); err != nil {
		return o, err
	}
	if f.platform != "" {
		p, err := v1.ParsePlatform(f.platform)
		if err != nil || strings.Contains(f.platform, ",") {
			return o, usageError{fmt.Errorf("--platform %q: give one os/arch[/variant]", f.platform)}
		}
		o.Platform = p
	}
	if o.Secrets, err = parseSecrets(f.secret); err != nil {
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
	case layers.Gzip, layers.Zstd, layers.Uncompressed:
	default:
		return o, usageError{fmt.Errorf("--compression %q: use gzip, zstd or uncompressed", f.compression)}
	}
	o.Registry = f.registryOptions()
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

func (f *buildFlags) readDockerfile(contextDir string, stdin io.Reader) ([]byte, string, string, error) {
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
	b, err := os.ReadFile(p)
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
