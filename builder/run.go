package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/ibuild/ibuild/builder/sandbox"
)

// dispatchRun runs a RUN step in the sandbox over the stage's layers and
// commits what it wrote as a new layer.
func (s *state) dispatchRun(ctx context.Context, c *instructions.RunCommand) error {
	if err := checkRunnable(s.stage.platform); err != nil {
		return err
	}
	work, err := os.MkdirTemp(filepath.Join(s.b.opts.Root, "tmp"), "run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	args, mounts, err := s.runArgs(c, work)
	if err != nil {
		return err
	}
	spec, err := s.runSpec(ctx, c, args, work)
	if err != nil {
		return err
	}
	defer s.cleanupRun()
	extra, err := s.runMounts(ctx, c)
	if err != nil {
		return err
	}
	spec.Mounts = append(append(spec.Mounts, mounts...), extra...)
	spec.Env = append(spec.Env, s.secretEnv...)
	if err := s.prepareRoot(ctx, &spec, work); err != nil {
		return err
	}
	tail := &tailBuffer{max: 4096}
	spec.Stdout = multiWriter(s.step, tail)
	spec.Stderr = spec.Stdout
	created, err := sandbox.Run(ctx, spec)
	if err != nil {
		var ee *sandbox.ExitError
		if errors.As(err, &ee) {
			return &RunError{Command: strings.Join(args, " "), Code: ee.Code, Tail: tail.String()}
		}
		return fmt.Errorf("running %q: %w", shortened(strings.Join(args, " "), 1000), err)
	}
	d, dir, err := s.commitRun(ctx, spec, created)
	if err != nil {
		return err
	}
	return s.appendLayer(d, dir, "RUN "+s.runHistory(args))
}

// cleanupRun forgets the secrets of the last RUN and releases what its
// mounts hold, last taken first.
func (s *state) cleanupRun() {
	for i := len(s.release) - 1; i >= 0; i-- {
		s.release[i]()
	}
	s.release, s.secretEnv = nil, nil
}

// runArgs turns the RUN line into argv, handling heredocs as BuildKit does: a
// lone heredoc with a shebang runs as a script, a lone heredoc without one
// runs in the shell, and heredocs inside a command line go to the shell.
func (s *state) runArgs(c *instructions.RunCommand,
	work string) ([]string, []sandbox.Mount, error) {
	args := c.CmdLine
	var mounts []sandbox.Mount
	if len(c.Files) > 0 {
		if len(args) != 1 || !c.PrependShell {
			return nil, nil, fmt.Errorf("invalid heredoc RUN: %v", args)
		}
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			data := c.Files[0].Data
			if c.Files[0].Chomp {
				data = parser.ChompHeredocContent(data)
			}
			if strings.HasPrefix(data, "#!") {
				dir := filepath.Join(work, "pipes")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return nil, nil, err
				}
				name := filepath.Base(c.Files[0].Name)
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o755); err != nil {
					return nil, nil, err
				}
				mounts = append(mounts, sandbox.Mount{Type: "bind", Source: dir,
					Target: "/dev/pipes", ReadOnly: true})
				return []string{"/dev/pipes/" + name}, mounts, nil
			}
			args = []string{data}
		} else {
			var b strings.Builder
			b.WriteString(args[0])
			for _, f := range c.Files {
				b.WriteString("\n" + f.Data + f.Name)
			}
			args = []string{b.String()}
		}
	}
	if c.PrependShell {
		args = append(s.shell(), strings.Join(args, " "))
	}
	return args, mounts, nil
}

// runSpec builds the sandbox spec: layers, user, environment, network.
func (s *state) runSpec(ctx context.Context, c *instructions.RunCommand, args []string,
	work string) (sandbox.Spec, error) {
	usr, err := s.lookupRunUser(ctx)
	if err != nil {
		return sandbox.Spec{}, err
	}
	lowers, err := s.unpackAll(ctx)
	if err != nil {
		return sandbox.Spec{}, err
	}
	upper := filepath.Join(work, "upper")
	ovWork := filepath.Join(work, "work")
	for _, d := range []string{upper, ovWork} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return sandbox.Spec{}, err
		}
	}
	env := s.runEnv(usr)
	cwd := s.cfg.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	spec := sandbox.Spec{
		Lowers: lowers, Upper: upper, Work: ovWork, Args: args, Env: env, Cwd: cwd,
		UID: uint32(usr.uid), GID: uint32(usr.gid),
		Network: sandbox.NetworkHost,
	}
	if sandbox.IDMapped() {
		// With one id mapped, setgroups is denied: the step keeps no groups.
		for _, g := range usr.groups {
			spec.AdditionalGIDs = append(spec.AdditionalGIDs, uint32(g))
		}
	}
	network := s.b.opts.Network
	if n := instructions.GetNetwork(c); n != instructions.NetworkDefault {
		network = string(n)
	}
	switch network {
	case "none":
		spec.Network = sandbox.NetworkNone
	case "host", "default", "":
	default:
		return sandbox.Spec{}, fmt.Errorf("network mode %q is not supported (use host or none)", network)
	}
	return spec, nil
}

// lookupRunUser resolves the stage's USER for a RUN step.
func (s *state) lookupRunUser(ctx context.Context) (owner, error) {
	spec := s.cfg.Config.User
	if spec == "" {
		spec = "0"
	}
	root, err := s.rootfs(ctx)
	if err != nil {
		return owner{}, err
	}
	return lookupInRoot(root, spec, false)
}

// runEnv is the environment of a RUN step: the image's Env and the ARGs in
// scope, predefined proxy args given with --build-arg, and HOME when unset.
func (s *state) runEnv(usr owner) []string {
	env := s.env
	for k, v := range s.b.opts.BuildArgs {
		if proxyArgs[k] {
			if _, ok := env.Get(k); !ok {
				env = env.set(k, v)
			}
		}
	}
	if _, ok := env.Get("HOME"); !ok {
		home := usr.home
		if home == "" {
			home = "/"
		}
		env = env.set("HOME", home)
	}
	return env
}

// runHistory is the history text of a RUN: the ARGs in scope as "|N K=V"
// then the command, as Docker writes it.
func (s *state) runHistory(args []string) string {
	var kv []string
	for _, k := range s.argNames {
		if v, ok := s.env.Get(k); ok {
			kv = append(kv, k+"="+v)
		}
	}
	if len(kv) == 0 {
		return strings.Join(args, " ")
	}
	return fmt.Sprintf("|%d %s %s", len(kv), strings.Join(kv, " "), strings.Join(args, " "))
}

// removeMountPoints deletes the files and empty directories the sandbox made
// in the upper dir to mount things on, deepest first, so they stay out of the
// layer. A directory the step wrote into is kept.
func removeMountPoints(upper string, created []string) error {
	sort.Sort(sort.Reverse(sort.StringSlice(created)))
	for _, p := range created {
		if keptMountPoint(p) {
			continue
		}
		// Never os.Remove: the step may have made a parent a symlink.
		err := removeInUpper(upper, p)
		if err != nil && !isNotEmpty(err) {
			return fmt.Errorf("removing mount point %s: %w", p, err)
		}
	}
	return nil
}

// keptMountPoints are the directories a RUN step leaves in its layer when
// the image lacked them, as BuildKit (through runc) does: the mount points
// of /proc, /dev and /sys.
func keptMountPoint(p string) bool {
	switch path.Clean("/" + p) {
	case "/proc", "/dev", "/sys":
		return true
	}
	return false
}

// pruneStubParents drops from the upper dir the existing directories that
// overlay copied up only because the sandbox created a mount point in them
// (/etc for /etc/hosts): once the stub is gone they are empty and the same
// as below, so they do not belong in the layer, as in BuildKit's result.
func (s *state) pruneStubParents(ctx context.Context, upper string, created []string) error {
	made := map[string]bool{}
	for _, p := range created {
		made[path.Clean("/"+p)] = true
	}
	root, err := s.rootfs(ctx)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, p := range created {
		for dir := path.Dir(path.Clean("/" + p)); dir != "/"; dir = path.Dir(dir) {
			if made[dir] || seen[dir] {
				continue
			}
			seen[dir] = true
			if err := pruneIfCopyUp(upper, root, dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// pruneIfCopyUp removes dir (below upper) when it is empty, not opaque, and
// has the mode and owner of the same directory in the view below, lower.
// No symlink on the way to dir is followed, in either (see openUpper).
func pruneIfCopyUp(upper, lower, dir string) error {
	e, ok, err := openUpper(upper, dir)
	if err != nil || !ok {
		return err
	}
	defer e.close()
	us, err := e.lstat()
	if err != nil || us.Mode&syscall.S_IFMT != syscall.S_IFDIR || e.opaque() {
		return nil
	}
	le, ok, err := openUpper(lower, dir)
	if err != nil || !ok {
		return err
	}
	defer le.close()
	ls, err := le.lstat()
	if err != nil || ls.Mode != us.Mode || us.Uid != ls.Uid || us.Gid != ls.Gid {
		return nil
	}
	err = e.remove()
	if err != nil && !isNotEmpty(err) {
		return fmt.Errorf("pruning %s: %w", dir, err)
	}
	return nil
}
