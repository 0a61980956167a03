package builder

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// run builds the target stage and the stages it needs, concurrently where
// they do not depend on each other, and returns the target's image.
func (b *build) run(ctx context.Context) (v1.Image, error) {
	t, err := b.target()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer b.cache.saveStats(b)
	b.start(ctx, cancel, t)
	res, err := b.wait(ctx, t)
	if err != nil {
		return nil, err
	}
	img, err := b.image(res)
	if err != nil {
		return nil, err
	}
	return b.finish(ctx, img, res)
}

// start runs sr in the background once, after starting and waiting for the
// stages it depends on. A failure cancels the whole build.
func (b *build) start(ctx context.Context, cancel context.CancelCauseFunc, sr *stageRun) {
	sr.once.Do(func() {
		for _, d := range sr.deps {
			b.start(ctx, cancel, d)
		}
		go func() {
			defer close(sr.done)
			for _, d := range sr.deps {
				if _, err := b.wait(ctx, d); err != nil {
					sr.err = err
					return
				}
			}
			select {
			case b.cpu <- struct{}{}:
			case <-ctx.Done():
				sr.err = context.Cause(ctx)
				return
			}
			defer func() { <-b.cpu }()
			sr.result, sr.err = b.runStage(ctx, sr)
			if sr.err != nil {
				cancel(sr.err)
			}
		}()
	})
}

// wait returns sr's result once it is done.
func (b *build) wait(ctx context.Context, sr *stageRun) (*stageResult, error) {
	select {
	case <-sr.done:
		return sr.result, sr.err
	case <-ctx.Done():
		<-sr.done
		if sr.err != nil {
			return nil, sr.err
		}
		return nil, context.Cause(ctx)
	}
}

// runStage runs every instruction of one stage.
func (b *build) runStage(ctx context.Context, sr *stageRun) (*stageResult, error) {
	s := &state{b: b, stage: sr, created: time.Now().UTC(), total: len(sr.def.Commands) + 1}
	step := b.rep.step(s.stepName(sr.def.SourceCode))
	err := s.initBase(ctx, step)
	step.done(s.cached && b.useCache(sr), err)
	if err != nil {
		return nil, b.fromError(sr.def, err)
	}
	if err := s.runOnbuild(ctx); err != nil {
		return nil, err
	}
	for i, cmd := range sr.def.Commands {
		s.index = i + 2
		if err := s.runCommand(ctx, cmd); err != nil {
			return nil, cmdError(b.df.name, cmd, err)
		}
	}
	return s.result(), nil
}

// runCommand dispatches cmd as one reported step.
func (s *state) runCommand(ctx context.Context, cmd instructions.Command) error {
	s.stepText = s.stepName(commandText(cmd))
	s.step = s.b.rep.step(s.stepText)
	s.cached = false
	s.pos++
	err := s.dispatch(ctx, cmd)
	s.step.done(s.cached, err)
	return err
}

func commandText(cmd instructions.Command) string {
	if st, ok := cmd.(fmt.Stringer); ok {
		return st.String()
	}
	return strings.ToUpper(cmd.Name())
}

// stepName is the progress line of a step, like BuildKit's
// "[build 2/5] RUN make".
func (s *state) stepName(text string) string {
	idx := s.index
	if idx == 0 {
		idx = 1
	}
	prefix := fmt.Sprintf("%d/%d", idx, s.total)
	if s.stage.name != "" {
		prefix = s.stage.name + " " + prefix
	} else if len(s.b.stages) > 1 {
		prefix = fmt.Sprintf("stage-%d %s", s.stage.index, prefix)
	}
	if s.b.opts.labelPlatform {
		// BuildKit's label: the target platform, "build->target" for a
		// stage that runs on another platform than the one it builds for.
		label := platformString(*s.b.opts.Platform)
		if p := s.stage.platform; p.OS != s.b.opts.Platform.OS ||
			p.Architecture != s.b.opts.Platform.Architecture {
			label = platformString(p) + "->" + s.b.opts.Platform.Architecture
		}
		prefix = label + " " + prefix
	}
	return "[" + prefix + "] " + firstLine(text)
}

// runOnbuild runs the ONBUILD triggers of the base image, in order, and
// removes them from the config so that they do not run again in a
// grandchild.
func (s *state) runOnbuild(ctx context.Context) error {
	triggers := s.cfg.Config.OnBuild
	s.cfg.Config.OnBuild = nil
	for _, t := range triggers {
		cmd, err := parseTrigger(t)
		if err != nil {
			return s.b.fromError(s.stage.def, fmt.Errorf("ONBUILD %s: %w", t, err))
		}
		if err := s.runCommand(ctx, cmd); err != nil {
			return s.b.fromError(s.stage.def, fmt.Errorf("ONBUILD %s: %w", t, err))
		}
	}
	return nil
}

func parseTrigger(t string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(t))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, errors.New("a trigger must be one instruction")
	}
	node := res.AST.Children[0]
	switch strings.ToUpper(node.Value) {
	case "ONBUILD", "FROM", "MAINTAINER":
		return nil, fmt.Errorf("%s is not allowed as an ONBUILD trigger", strings.ToUpper(node.Value))
	}
	return instructions.ParseCommand(node)
}
