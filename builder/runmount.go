package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path"
	"path/filepath"
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
// ends up in the step's layer.
func (s *state) runMounts(ctx context.Context, c *instructions.RunCommand) ([]sandbox.Mount, error) {
	var out []sandbox.Mount
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			target = s.workdirPath(target)
		}
		var (
			sm  sandbox.Mount
			err error
		)
		switch m.Type {
		case instructions.MountTypeBind:
			sm, err = s.bindMount(ctx, m, target)
		case instructions.MountTypeCache:
			sm, err = s.cacheMount(m, target)
		case instructions.MountTypeTmpfs:
			sm = sandbox.Mount{Type: "tmpfs", Target: target}
		case instructions.MountTypeSecret:
			var skip bool
			sm, skip, err = s.secretMount(m)
			if skip {
				continue
			}
		default:
			err = fmt.Errorf("RUN --mount=type=%s is not supported", m.Type)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sm)
	}
	return out, nil
}

// bindMount mounts a path of the context or of another stage, read-only
// unless rw is given; a rw mount gets a private copy so that nothing the
// step writes there reaches the source.
func (s *state) bindMount(ctx context.Context, m *instructions.Mount, target string) (sandbox.Mount, error) {
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
	if _, err := os.Stat(src); err != nil {
		return sandbox.Mount{}, fmt.Errorf("bind source %s: %w", m.Source, err)
	}
	if !m.ReadOnly {
		// TODO: a rw bind mount of a large tree copies it; an overlay would not.
		cp, err := os.MkdirTemp(filepath.Join(s.b.opts.Root, "tmp"), "bind-")
		if err != nil {
			return sandbox.Mount{}, err
		}
		if err := copyTree(src, cp); err != nil {
			return sandbox.Mount{}, fmt.Errorf("copying bind source %s: %w", m.Source, err)
		}
		src = cp
	}
	return sandbox.Mount{Type: "bind", Source: src, Target: target, ReadOnly: m.ReadOnly}, nil
}

// cacheMount gives the step a directory kept in the store across builds.
func (s *state) cacheMount(m *instructions.Mount, target string) (sandbox.Mount, error) {
	id := m.CacheID
	if id == "" {
		id = target
	}
	sum := sha256.Sum256([]byte(id))
	dir := filepath.Join(s.b.opts.Root, "cache-mounts", hex.EncodeToString(sum[:16]))
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		mode := os.FileMode(0o755)
		if m.Mode != nil {
			mode = os.FileMode(*m.Mode)
		}
		if err := os.MkdirAll(dir, mode); err != nil {
			return sandbox.Mount{}, fmt.Errorf("creating cache mount %s: %w", id, err)
		}
		_ = os.Chmod(dir, mode)
		uid, gid := 0, 0
		if m.UID != nil {
			uid = int(*m.UID)
		}
		if m.GID != nil {
			gid = int(*m.GID)
		}
		if err := os.Lchown(dir, uid, gid); err != nil {
			return sandbox.Mount{}, fmt.Errorf("setting owner of cache mount %s: %w", id, err)
		}
	}
	// TODO: sharing=locked and sharing=private behave as shared for now.
	return sandbox.Mount{Type: "bind", Source: dir, Target: target}, nil
}

// secretMount mounts a secret as a file (default /run/secrets/ID) or, with
// env=NAME and no target, sets nothing here and is handled as environment.
func (s *state) secretMount(m *instructions.Mount) (sandbox.Mount, bool, error) {
	id := m.CacheID
	if id == "" {
		id = path.Base(m.Target)
	}
	sec, ok := s.b.opts.Secrets[id]
	if !ok {
		if m.Required {
			return sandbox.Mount{}, false, fmt.Errorf("secret %q is required but was not given (--secret id=%s,…)", id, id)
		}
		return sandbox.Mount{}, true, nil
	}
	data, err := readSecret(sec)
	if err != nil {
		return sandbox.Mount{}, false, fmt.Errorf("reading secret %q: %w", id, err)
	}
	if m.Env != nil && *m.Env != "" {
		s.secretEnv = append(s.secretEnv, *m.Env+"="+string(data))
		if m.Target == "" {
			return sandbox.Mount{}, true, nil
		}
	}
	target := m.Target
	if target == "" {
		target = "/run/secrets/" + id
	}
	dir, err := os.MkdirTemp(filepath.Join(s.b.opts.Root, "tmp"), "secret-")
	if err != nil {
		return sandbox.Mount{}, false, err
	}
	mode := os.FileMode(0o400)
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode)
	}
	f := filepath.Join(dir, "secret")
	if err := os.WriteFile(f, data, mode); err != nil {
		return sandbox.Mount{}, false, err
	}
	uid, gid := 0, 0
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if err := os.Lchown(f, uid, gid); err != nil {
		return sandbox.Mount{}, false, err
	}
	s.tempDirs = append(s.tempDirs, dir)
	return sandbox.Mount{Type: "bind", Source: f, Target: target, ReadOnly: true}, false, nil
}

func readSecret(sec Secret) ([]byte, error) {
	if sec.Env != "" {
		v, ok := os.LookupEnv(sec.Env)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", sec.Env)
		}
		return []byte(v), nil
	}
	return os.ReadFile(sec.File)
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
		return "", err
	}
	other := &state{b: s.b, stage: s.stage}
	if err := other.fromImage(img); err != nil {
		return "", err
	}
	return other.rootfs(ctx)
}
