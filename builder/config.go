package builder

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// dispatchConfig applies an instruction that only changes the image config.
func (s *state) dispatchConfig(cmd instructions.Command) error {
	c := &s.cfg.Config
	switch cmd := cmd.(type) {
	case *instructions.EnvCommand:
		parts := make([]string, 0, len(cmd.Env))
		for _, kv := range cmd.Env {
			c.Env = envList(c.Env).set(kv.Key, kv.Value)
			s.env = s.env.set(kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		s.history("ENV "+strings.Join(parts, " "), false)
	case *instructions.LabelCommand:
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		parts := make([]string, 0, len(cmd.Labels))
		for _, kv := range cmd.Labels {
			c.Labels[kv.Key] = kv.Value
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		s.history("LABEL "+strings.Join(parts, " "), false)
	case *instructions.MaintainerCommand:
		s.cfg.Author = cmd.Maintainer
		s.history("MAINTAINER "+cmd.Maintainer, false)
	case *instructions.ExposeCommand:
		return s.dispatchExpose(cmd)
	case *instructions.CmdCommand:
		c.Cmd = s.withShell(cmd.ShellDependantCmdLine)
		c.ArgsEscaped = true
		s.cmdSet = true
		s.history(fmt.Sprintf("CMD %q", c.Cmd), false)
	case *instructions.EntrypointCommand:
		c.Entrypoint = s.withShell(cmd.ShellDependantCmdLine)
		if !s.cmdSet {
			c.Cmd = nil
		}
		s.history(fmt.Sprintf("ENTRYPOINT %q", c.Entrypoint), false)
	case *instructions.UserCommand:
		c.User = cmd.User
		s.history("USER "+cmd.User, false)
	case *instructions.VolumeCommand:
		return s.dispatchVolume(cmd)
	case *instructions.StopSignalCommand:
		if err := checkSignal(cmd.Signal); err != nil {
			return err
		}
		c.StopSignal = cmd.Signal
		s.history("STOPSIGNAL "+cmd.Signal, false)
	case *instructions.HealthCheckCommand:
		h := cmd.Health
		c.Healthcheck = &v1.HealthConfig{Test: slices.Clone(h.Test), Interval: h.Interval,
			Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
		s.startInterval = h.StartInterval
		s.history(fmt.Sprintf("HEALTHCHECK %+v",
			healthString(h.Test, c.Healthcheck, h.StartInterval)), false)
	case *instructions.ShellCommand:
		c.Shell = slices.Clone(cmd.Shell)
		s.history(fmt.Sprintf("SHELL %v", cmd.Shell), false)
	default:
		return fmt.Errorf("the %s instruction is not supported", strings.ToUpper(cmd.Name()))
	}
	return nil
}

// withShell turns a shell-form command line into the exec form with the
// stage's SHELL; exec form stays as it is.
func (s *state) withShell(cl instructions.ShellDependantCmdLine) []string {
	if !cl.PrependShell {
		return slices.Clone(cl.CmdLine)
	}
	return append(s.shell(), strings.Join(cl.CmdLine, " "))
}

// shell returns the stage's SHELL, /bin/sh -c by default.
func (s *state) shell() []string {
	if len(s.cfg.Config.Shell) > 0 {
		return slices.Clone(s.cfg.Config.Shell)
	}
	return []string{"/bin/sh", "-c"}
}

func healthString(test []string, h *v1.HealthConfig, startInterval time.Duration) string {
	return fmt.Sprintf("{Test:%v Interval:%v Timeout:%v StartPeriod:%v StartInterval:%v Retries:%d}",
		test, h.Interval, h.Timeout, h.StartPeriod, startInterval, h.Retries)
}

func (s *state) dispatchVolume(cmd *instructions.VolumeCommand) error {
	c := &s.cfg.Config
	if c.Volumes == nil {
		c.Volumes = map[string]struct{}{}
	}
	for _, v := range cmd.Volumes {
		if v == "" {
			return errors.New("VOLUME specified can not be an empty string")
		}
		c.Volumes[v] = struct{}{}
	}
	s.history(fmt.Sprintf("VOLUME %v", cmd.Volumes), false)
	return nil
}

func (s *state) dispatchOnbuild(cmd *instructions.OnbuildCommand) error {
	s.cfg.Config.OnBuild = append(s.cfg.Config.OnBuild, cmd.Expression)
	return nil
}

// workdirPath resolves p against the current working directory.
func (s *state) workdirPath(p string) string {
	if !path.IsAbs(p) {
		cur := s.cfg.Config.WorkingDir
		if cur == "" {
			cur = "/"
		}
		p = path.Join(cur, p)
	}
	return path.Clean(p)
}
