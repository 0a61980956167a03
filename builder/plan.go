package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/ibuild/ibuild/builder/sandbox"
	"github.com/ibuild/ibuild/layers"
	"github.com/ibuild/ibuild/registry"
)

// build is one run of Build: the parsed Dockerfile, the stores, the global
// ARGs and the stages.
type build struct {
	opts Options
	df   *dockerfile
	// outer is the caller's context: images pulled with it stay readable
	// after the build (their layers download lazily, e.g. during export).
	outer  context.Context
	store  *layers.Store
	images *registry.ImageStore
	rep    *reporter
	lex    *shell.Lex
	global envList
	args   argTracker
	// declaredOnly holds global ARGs declared without any value.
	declaredOnly map[string]bool
	stages       []*stageRun
	mounts       *mountSet
	context      *buildContext
	attest       attestLog
	cache        *buildCache
	// cpu bounds the stages that run at once.
	cpu chan struct{}

	// copyOnce decides once whether overlayfs works (copyMode false).
	copyOnce sync.Once
	copyMode bool

	mu       sync.Mutex
	warnings []string
}

// stageRun is one stage of the plan and, once run, its result.
type stageRun struct {
	index int
	def   *instructions.Stage
	name  string // lower-cased stage name, "" when unnamed
	base  string // base image reference or stage name, variables expanded
	// platform is the stage's platform (FROM --platform or the target).
	platform v1.Platform
	parent   *stageRun
	deps     []*stageRun

	once   sync.Once
	done   chan struct{}
	result *stageResult
	err    error
}

func newBuild(ctx context.Context, opts Options, df *dockerfile) (*build, error) {
	store, err := layers.OpenStore(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("opening the store at %s: %w", opts.Root, err)
	}
	lossy := !sandbox.IDMapped()
	if lossy {
		// One id mapped (no subordinate range): files of other owners in
		// base layers are unpacked as that id rather than fail every RUN.
		store.UnpackOptions.LossyOwners = true
	}
	images, err := registry.OpenImageStore(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("opening the image store at %s: %w", opts.Root, err)
	}
	tmp := filepath.Join(opts.Root, "tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, err
	}
	b := &build{
		opts: opts, df: df, outer: ctx, store: store, images: images,
		rep:          opts.reporter,
		lex:          shell.NewLex(df.escape),
		declaredOnly: map[string]bool{},
		mounts:       &mountSet{tmp: tmp},
		cache:        newBuildCache(opts),
		cpu:          make(chan struct{}, max(2, runtime.NumCPU())),
	}
	if lossy {
		var once sync.Once
		store.UnpackOptions.Warn = func(err error) {
			once.Do(func() {
				b.warn("only one user id is mapped (no range in /etc/subuid for this user): " +
					"files of other owners in base layers are kept as owned by you, and RUN " +
					"steps cannot use other ids; add a range with usermod --add-subuids " +
					"100000-165535 --add-subgids 100000-165535 USER")
			})
		}
	}
	if b.rep == nil {
		b.rep = &reporter{fn: opts.Progress}
	}
	b.context = newBuildContext(opts.ContextDir, opts.DockerfilePath, opts.DockerfileName)
	if b.global, err = b.resolveMetaArgs(); err != nil {
		return nil, err
	}
	if err := b.plan(); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *build) close() { b.mounts.unmountAll() }

func (b *build) warn(msg string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.warnings = append(b.warnings, msg)
}

func (b *build) allWarnings() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := append(append([]string(nil), b.df.warnings...), b.warnings...)
	for _, k := range b.args.unused(b.opts.BuildArgs) {
		out = append(out, fmt.Sprintf("build argument %q was given but no ARG uses it", k))
	}
	return out
}

// plan expands each FROM, links stages to the stages they use and checks
// that the target exists.
func (b *build) plan() error {
	for i := range b.df.stages {
		def := &b.df.stages[i]
		sr := &stageRun{index: i, def: def, name: strings.ToLower(def.Name),
			done: make(chan struct{})}
		base, _, err := b.lex.ProcessWord(def.BaseName, b.global)
		if err != nil {
			return b.fromError(def, fmt.Errorf("expanding base name: %w", err))
		}
		if base == "" {
			return b.fromError(def, errors.New("base name is empty after expanding variables"))
		}
		sr.base = base
		if sr.platform, err = b.stagePlatform(def); err != nil {
			return b.fromError(def, err)
		}
		if p := b.stageByName(strings.ToLower(base), i); p != nil {
			sr.parent = p
			sr.deps = append(sr.deps, p)
		}
		b.stages = append(b.stages, sr)
	}
	for _, sr := range b.stages {
		if err := b.linkDeps(sr); err != nil {
			return err
		}
	}
	return nil
}

func (b *build) fromError(def *instructions.Stage, err error) error {
	e := &InstructionError{File: b.df.name, Text: def.SourceCode, Err: err}
	if len(def.Location) > 0 {
		e.Line = def.Location[0].Start.Line
	}
	return e
}

func (b *build) stagePlatform(def *instructions.Stage) (v1.Platform, error) {
	if def.Platform == "" {
		return *b.opts.Platform, nil
	}
	s, _, err := b.lex.ProcessWord(def.Platform, b.global)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("expanding --platform: %w", err)
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("parsing --platform %q: %w", s, err)
	}
	return *p, nil
}

// stageByName finds a stage defined before index by name or number.
func (b *build) stageByName(name string, before int) *stageRun {
	for _, sr := range b.stages {
		if sr.index < before && sr.name != "" && sr.name == name {
			return sr
		}
	}
	if n, err := strconv.Atoi(name); err == nil && n >= 0 && n < before && n < len(b.stages) {
		return b.stages[n]
	}
	return nil
}

// linkDeps records the stages that COPY --from and RUN --mount=from use.
func (b *build) linkDeps(sr *stageRun) error {
	for _, cmd := range sr.def.Commands {
		var from []string
		switch c := cmd.(type) {
		case *instructions.CopyCommand:
			from = append(from, c.From)
		case *instructions.RunCommand:
			for _, m := range instructions.GetMounts(c) {
				from = append(from, m.From)
			}
		}
		for _, f := range from {
			if f == "" {
				continue
			}
			name, _, err := b.lex.ProcessWord(f, b.global)
			if err != nil {
				return cmdError(b.df.name, cmd, err)
			}
			if dep := b.stageByName(strings.ToLower(name), sr.index); dep != nil {
				sr.deps = append(sr.deps, dep)
			} else if b.stageByName(strings.ToLower(name), len(b.stages)) != nil {
				return cmdError(b.df.name, cmd,
					fmt.Errorf("stage %q is used before it is defined", name))
			}
		}
	}
	return nil
}

// target returns the stage to build.
func (b *build) target() (*stageRun, error) {
	if b.opts.Target == "" {
		return b.stages[len(b.stages)-1], nil
	}
	t := strings.ToLower(b.opts.Target)
	for _, sr := range b.stages {
		if sr.name == t {
			return sr, nil
		}
	}
	var names []string
	for _, sr := range b.stages {
		if sr.name != "" {
			names = append(names, sr.name)
		}
	}
	list := "the stages have no names: name them with FROM … AS NAME"
	if len(names) > 0 {
		list = "stages: " + strings.Join(names, ", ")
	}
	return nil, &TargetError{Target: b.opts.Target,
		Err: fmt.Errorf("target stage %q not found (%s)", b.opts.Target, list)}
}

// TargetError is a --target that names no stage of the Dockerfile.
type TargetError struct {
	Target string
	Err    error
}

func (e *TargetError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *TargetError) Unwrap() error { return e.Err }
