package builder

import (
	"context"
	"fmt"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/ibuild/ibuild/layers"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// layerRef is one layer of a stage: the layer itself and, once a RUN or a
// read needed it, the directory it is unpacked in.
type layerRef struct {
	layer v1.Layer
	dir   string
}

// state is a stage while its instructions run: the image config being
// built, its layers, and the variables in scope.
type state struct {
	b      *build
	stage  *stageRun
	cfg    *v1.ConfigFile
	layers []*layerRef
	// env holds the image's Env plus the ARGs in scope, for expansion and RUN.
	env envList
	// argNames and argVals are the ARGs declared in this stage.
	argNames []string
	argVals  envList
	// cmdSet records a CMD in this stage, so ENTRYPOINT keeps it.
	cmdSet bool
	// secretEnv and release belong to the RUN step being prepared: the
	// environment only it sees (secrets, SSH_AUTH_SOCK) and what undoes
	// its mounts (locks, temporary files, agent proxies).
	secretEnv []string
	release   []func()
	// baseLayers counts the layers of the external base image.
	baseLayers int
	// startInterval is HEALTHCHECK --start-interval, which go-containerregistry's
	// config type cannot hold; it is written into the config at the end.
	startInterval time.Duration
	// before records a copy-mode RUN step's root before it runs.
	before *layers.Tree
	// view is the mounted read-only root of the current layers, "" if none.
	view string
	// created is the time written into history entries.
	created time.Time
	// step reports on the instruction running now; cached says it was a cache hit.
	step   *stepReport
	cached bool
	// stepText is the progress name of the step running now; pos numbers
	// the steps of the stage, ONBUILD triggers included, for the cache.
	stepText string
	pos      int
	// chain is the cache key of the stage's filesystem so far, chainAbout
	// the step (or base) that made it, and parentRebuilt says that step ran.
	chain, chainAbout string
	parentRebuilt     bool
	// step numbering for progress: this stage's instruction index and count.
	index, total int
}

// history adds a history entry for an instruction.
func (s *state) history(createdBy string, withLayer bool) {
	t := s.created
	if s.b.opts.Epoch != nil {
		t = *s.b.opts.Epoch
	}
	s.cfg.History = append(s.cfg.History, v1.History{
		Created:    v1.Time{Time: t},
		CreatedBy:  createdBy,
		Comment:    historyComment,
		EmptyLayer: !withLayer,
	})
}

// historyComment marks the history entries ibuild writes.
const historyComment = "ibuild.dockerfile.v0"

// expand runs variable expansion over the instruction's words, as Docker does
// for the instructions that support it. ARG expands its own defaults.
func (s *state) expand(cmd instructions.Command) error {
	if _, isArg := cmd.(*instructions.ArgCommand); isArg {
		return nil
	}
	if e, ok := cmd.(instructions.SupportsSingleWordExpansion); ok {
		err := e.Expand(func(word string) (string, error) {
			v, _, err := s.b.lex.ProcessWord(word, s.env)
			return v, err
		})
		if err != nil {
			return fmt.Errorf("expanding variables: %w", err)
		}
	}
	if e, ok := cmd.(instructions.SupportsSingleWordExpansionRaw); ok {
		lex := shell.NewLex('\\')
		lex.SkipProcessQuotes = true
		err := e.ExpandRaw(func(word string) (string, error) {
			v, _, err := lex.ProcessWord(word, s.env)
			return v, err
		})
		if err != nil {
			return fmt.Errorf("expanding heredoc: %w", err)
		}
	}
	return nil
}

// dispatch runs one instruction against the state.
func (s *state) dispatch(ctx context.Context, cmd instructions.Command) error {
	if err := s.expand(cmd); err != nil {
		return err
	}
	return s.dispatchCached(ctx, cmd)
}

// dispatchInstruction runs one expanded instruction (see dispatchCached).
func (s *state) dispatchInstruction(ctx context.Context, cmd instructions.Command) error {
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		return s.dispatchRun(ctx, c)
	case *instructions.CopyCommand:
		return s.dispatchCopy(ctx, copyFromCopy(c))
	case *instructions.AddCommand:
		return s.dispatchCopy(ctx, copyFromAdd(c))
	case *instructions.ArgCommand:
		return s.dispatchArg(c)
	case *instructions.OnbuildCommand:
		return s.dispatchOnbuild(c)
	case *instructions.WorkdirCommand:
		return s.dispatchWorkdir(ctx, c)
	default:
		return s.dispatchConfig(cmd)
	}
}

// result freezes the state into a stage result.
func (s *state) result() *stageResult {
	cfg := s.cfg.DeepCopy()
	return &stageResult{cfg: cfg, layers: slices.Clone(s.layers), env: slices.Clone(s.env),
		baseLayers: s.baseLayers, key: s.chain, about: s.chainAbout,
		startInterval: s.startInterval}
}

// stageResult is a finished stage: its config and layers.
type stageResult struct {
	cfg    *v1.ConfigFile
	layers []*layerRef
	env    envList
	// baseLayers counts the layers that came from the base image (through
	// FROM <stage> too); --squash keeps them and merges the rest.
	baseLayers int
	// startInterval is the healthcheck's start interval (see state).
	startInterval time.Duration
	// key is the cache key of the stage's filesystem; about names the
	// step that made it.
	key, about string
}
