package builder

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/ibuild/ibuild/builder/sandbox"
)

// Secret is a build secret given with --secret: the content of a file or
// of an environment variable of the ibuild process.
type Secret struct {
	File string
	Env  string
}

// runMounts turns RUN --mount flags into sandbox mounts. Nothing mounted
// ends up in the step's layer. What the mounts hold on to (locks, secret
// files, agent proxies) is released by s.cleanupRun; environment variables
// the mounts set (env= secrets, SSH_AUTH_SOCK) go to s.secretEnv.
func (s *state) runMounts(ctx context.Context, c *instructions.RunCommand) ([]sandbox.Mount,
	error) {
	var out []sandbox.Mount
	nssh := 0
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			target = s.workdirPath(target)
		}
		var (
			sm   sandbox.Mount
			skip bool
			err  error
		)
		switch m.Type {
		case instructions.MountTypeBind:
			sm, err = s.bindMount(ctx, m, target)
		case instructions.MountTypeCache:
			sm, err = s.cacheMount(ctx, m, target)
		case instructions.MountTypeTmpfs:
			sm = sandbox.Mount{Type: "tmpfs", Target: target}
			if m.SizeLimit > 0 {
				sm.Options = []string{"size=" + strconv.FormatInt(m.SizeLimit, 10)}
			}
		case instructions.MountTypeSecret:
			sm, skip, err = s.secretMount(m)
		case instructions.MountTypeSSH:
			sm, skip, err = s.sshMount(m, nssh)
			nssh++
		default:
			err = fmt.Errorf("RUN --mount=type=%s is not supported", m.Type)
		}
		if err != nil {
			return nil, err
		}
		if !skip {
			out = append(out, sm)
		}
	}
	return out, nil
}

// onRelease registers what undoes part of a RUN step's setup once the step
// is over, successful or not.
func (s *state) onRelease(f func()) { s.release = append(s.release, f) }

// bindMount mounts a path of the context or of another stage, read-only
// unless rw is given; a rw mount gets a private copy so that nothing the
// step writes there reaches the source.
func (s *state) bindMount(ctx context.Context, m *instructions.Mount,
	target string) (sandbox.Mount, error) {
	var root string
	if m.From == "" {
		root = s.b.opts.ContextDir
	} else {
		r, err := s.fromRoot(ctx, m.From)
		if err != nil {
			return sandbox.Mount{}, err
		}
		root = r
	}
	src, err := securejoin.SecureJoin(root, m.Source)
	if err != nil {
		return sandbox.Mount{}, fmt.Errorf("resolving bind source %s: %w", m.Source, err)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return sandbox.Mount{}, fmt.Errorf("bind source %s: %w", m.Source, err)
	}
	if m.From == "" {
		// The context as the build sees it, .dockerignore applied; a rw
		// mount gets a private copy so that nothing the step writes there
		// reaches the context.
		if src, err = s.contextView(src, !m.ReadOnly); err != nil {
			return sandbox.Mount{}, err
		}
	} else if !m.ReadOnly {
		// TODO: a rw bind mount of a large tree copies it; an overlay would not.
		cp, err := os.MkdirTemp(filepath.Join(s.b.opts.Root, "tmp"), "bind-")
		if err != nil {
			return sandbox.Mount{}, err
		}
		s.onRelease(func() { _ = os.RemoveAll(cp) })
		if err := copyTree(src, cp); err != nil {
			return sandbox.Mount{}, fmt.Errorf("copying bind source %s: %w", m.Source, err)
		}
		if fi.IsDir() {
			src = cp
		} else {
			src = filepath.Join(cp, filepath.Base(src))
		}
	}
	return sandbox.Mount{Type: "bind", Source: src, Target: target, ReadOnly: m.ReadOnly}, nil
}

// mountOwner returns the uid and gid a mount option asks for, 0 when unset.
func mountOwner(m *instructions.Mount) (int, int) {
	uid, gid := 0, 0
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	return uid, gid
}

// mountMode returns the mode a mount option asks for, or def.
func mountMode(m *instructions.Mount, def os.FileMode) os.FileMode {
	if m.Mode != nil {
		return os.FileMode(*m.Mode) & os.ModePerm
	}
	return def
}

// fromRoot returns the filesystem of a stage (by name or index) or image,
// for --from.
func (s *state) fromRoot(ctx context.Context, from string) (string, error) {
	name := strings.ToLower(from)
	if dep := s.b.stageByName(name, s.stage.index); dep != nil {
		res, err := s.b.wait(ctx, dep)
		if err != nil {
			return "", err
		}
		other := &state{b: s.b, stage: dep, cfg: res.cfg, layers: res.layers}
		return other.rootfs(ctx)
	}
	img, err := s.b.baseImage(ctx, from, s.stage.platform, s.step)
	if err != nil {
		return "", s.b.stageHint(from, err)
	}
	other := &state{b: s.b, stage: s.stage}
	if err := other.fromImage(img); err != nil {
		return "", err
	}
	return other.rootfs(ctx)
}

// stageHint adds to the error of pulling from as an image that no stage
// has that name, with the stages there are, since a typo in a stage name
// is the usual cause.
func (b *build) stageHint(from string, err error) error {
	var names []string
	for _, sr := range b.stages {
		if sr.name != "" {
			names = append(names, sr.name)
		}
	}
	if len(names) == 0 {
		return err
	}
	return fmt.Errorf("%w (%q is not a stage of this Dockerfile either; stages: %s)", err, from,
		strings.Join(names, ", "))
}
