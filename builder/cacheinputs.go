package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// runInputs are the inputs of a RUN step's key: the command, the
// environment it runs with (build args in scope and ENV; the predefined
// proxy args only when an ARG declares them, as in Docker), user, working
// directory, network, and its mounts. A secret mount counts by its id, never
// its content; a bind mount by the content of what it mounts.
func (s *state) runInputs(ctx context.Context, c *instructions.RunCommand) *stepInputs {
	in := &stepInputs{}
	text := "RUN " + strings.Join(c.CmdLine, " ")
	for _, f := range c.Files {
		text += "\n" + f.Data + f.Name
	}
	in.add(inInstruction, "", text)
	for _, k := range s.env.Keys() {
		v, _ := s.env.Get(k)
		kind := inEnv
		if slices.Contains(s.argNames, k) {
			kind = inArg
		}
		in.add(kind, k, v)
	}
	files, _ := json.Marshal(c.Files)
	in.add(inSetting, "heredocs", string(files))
	if c.PrependShell {
		in.add(inSetting, "shell", strings.Join(s.shell(), " "))
	}
	in.add(inSetting, "user", s.cfg.Config.User)
	in.add(inSetting, "workdir", s.cfg.Config.WorkingDir)
	in.add(inSetting, "declared args", strings.Join(s.argNames, " "))
	network := s.b.opts.Network
	if n := instructions.GetNetwork(c); n != instructions.NetworkDefault {
		network = string(n)
	}
	in.add(inSetting, "network", network)
	in.add(inSetting, "security", instructions.GetSecurity(c))
	for i, m := range instructions.GetMounts(c) {
		if err := s.mountInputs(ctx, in, i, m); err != nil {
			return &stepInputs{uncacheable: err.Error()}
		}
	}
	return in
}

// mountInputs adds the inputs of one RUN --mount.
func (s *state) mountInputs(ctx context.Context, in *stepInputs, i int,
	m *instructions.Mount) error {
	spec := *m
	if m.Type == instructions.MountTypeSecret {
		// Only what names the secret and where it goes; never its content.
		spec = instructions.Mount{Type: m.Type, CacheID: m.CacheID, Target: m.Target,
			Required: m.Required, Env: m.Env, Mode: m.Mode, UID: m.UID, GID: m.GID}
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%d %s %s", i+1, m.Type, m.Target)
	in.add(inMount, name, string(b))
	if m.Type != instructions.MountTypeBind {
		return nil
	}
	if m.From != "" {
		key, err := s.fromKey(ctx, m.From)
		if err != nil {
			return err
		}
		in.add(inFrom, m.From, key)
		return nil
	}
	// The context is mounted as it is on disk, without the ignore file
	// (see bindMount), so that is what counts.
	src := &srcRoot{dir: s.b.opts.ContextDir}
	files, err := s.digestSources(ctx, src, []string{m.Source}, "/", true,
		&copier{keepOwners: true})
	if err != nil {
		return fmt.Errorf("bind mount %s: %w", m.Source, err)
	}
	in.list = append(in.list, files...)
	return nil
}

// copyInputs are the inputs of a COPY or ADD: the instruction with every
// option, the working directory a relative destination is resolved in,
// and the sources: the final key of a --from stage (or the digest of a
// --from image), or the entries the copy would write from the context.
func (s *state) copyInputs(ctx context.Context, req *copyRequest) *stepInputs {
	in := &stepInputs{}
	in.add(inInstruction, "", req.historyText())
	for _, src := range req.srcs {
		// TODO: BuildKit keys a download by its ETag/Last-Modified; without
		// --checksum ibuild downloads it again on every build.
		if isHTTPSource(src) && req.checksum == "" {
			return &stepInputs{uncacheable: "ADD of a URL without --checksum is never cached"}
		}
	}
	opts, err := json.Marshal(struct {
		Add, Link, Parents bool
		Srcs, Excludes     []string
		Heredocs           []instructions.SourceContent
		Dest, From         string
		Chown, Chmod       string
		Checksum           string
		Unpack, KeepGitDir *bool
	}{req.add, req.link, req.parents, req.srcs, req.excludes, req.heredocs, req.dest, req.from,
		req.chown, req.chmod, req.checksum, req.unpack, req.keepGitDir})
	if err != nil {
		return &stepInputs{uncacheable: err.Error()}
	}
	in.add(inSetting, "options", string(opts))
	in.add(inSetting, "workdir", s.cfg.Config.WorkingDir)
	if req.from != "" {
		from, _, err := s.b.lex.ProcessWord(req.from, s.b.global)
		if err == nil {
			var key string
			if key, err = s.fromKey(ctx, from); err == nil {
				in.add(inFrom, from, key)
				return in
			}
		}
		return &stepInputs{uncacheable: err.Error()}
	}
	if err := s.copyContextInputs(ctx, req, in); err != nil {
		return &stepInputs{uncacheable: err.Error()}
	}
	return in
}

// copyContextInputs adds the entries a COPY or ADD from the context writes.
func (s *state) copyContextInputs(ctx context.Context, req *copyRequest, in *stepInputs) error {
	var local []string
	for _, p := range req.srcs {
		if !isHTTPSource(p) {
			local = append(local, p)
		}
	}
	if len(local) == 0 {
		return nil
	}
	src, err := s.copySource(ctx, req)
	if err != nil {
		return err
	}
	// TODO: a file changed between this walk and the copy's own gives a
	// layer that does not match the key it is stored under.
	c := &copier{ignore: src.ignore}
	if c.chmod, err = parseChmod(req.chmod); err != nil {
		return err
	}
	if len(req.excludes) > 0 {
		if c.exclude, err = newPathFilter(req.excludes, false); err != nil {
			return err
		}
	}
	destPath, slash := destSpec(req.dest, s.cfg.Config.WorkingDir)
	if req.parents {
		files, err := s.digestParents(ctx, src, local, destPath, slash, c)
		in.list = append(in.list, files...)
		return err
	}
	files, err := s.digestSources(ctx, src, local, destPath, slash, c)
	in.list = append(in.list, files...)
	return err
}

// fromKey is the cache key of what --from names: a stage's final key, or
// an image's manifest digest.
func (s *state) fromKey(ctx context.Context, from string) (string, error) {
	if dep := s.b.stageByName(strings.ToLower(from), s.stage.index); dep != nil {
		res, err := s.b.wait(ctx, dep)
		if err != nil {
			return "", err
		}
		return res.key, nil
	}
	img, err := s.b.baseImage(ctx, from, s.stage.platform, s.step)
	if err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// workdirInputs are the inputs of a WORKDIR: the directory and the user
// that owns the directories it makes.
func (s *state) workdirInputs(c *instructions.WorkdirCommand) *stepInputs {
	in := &stepInputs{}
	in.add(inInstruction, "", "WORKDIR "+s.workdirPath(c.Path))
	in.add(inSetting, "user", s.cfg.Config.User)
	return in
}
