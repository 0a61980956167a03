package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The child learns its role from childEnv and reads its config from configFD; it
// writes one report to reportFD once the command has started or setup has failed.
const (
	childEnv = "IBUILD_SANDBOX_CHILD"
	configFD = 3
	reportFD = 4
)

// childConfig is the part of a Spec the child needs, plus generated file contents.
type childConfig struct {
	Lowers    []string
	Upper     string
	RootDir   string
	Work      string
	Args      []string
	Env       []string
	Cwd       string
	UID       uint32
	GID       uint32
	Groups    []uint32
	SetGroups bool
	Hostname  string
	NewNet    bool
	Mounts    []Mount
	Hosts     string
	Resolv    string
}

// childReport is what the child tells the parent before the command runs.
type childReport struct {
	Created  []string
	Err      string
	NotFound bool
}

// Run runs spec.Args in a new sandbox over an overlay of spec.Lowers and
// spec.Upper, streams its output, and waits for it. A non-zero exit is an
// *ExitError. Cancelling ctx kills every process of the step.
//
// created lists the paths, relative to the root and parents first (like
// "etc/hosts"), of mount points the sandbox had to create in the upper dir; the
// caller leaves them out of the layer. It is set whenever setup got that far, even
// when err is not nil.
//
// Run re-executes /proc/self/exe, so the program must call Main first thing. If
// ibuild dies, the kernel kills the step (parent-death signal) and with it every
// mount it made, which live only in the step's mount namespace. That signal
// follows the OS thread that called Run: do not call it from a goroutine that
// locks its thread and then exits. Needs Linux 5.12 (overlay with userxattr,
// mount_setattr); Linux 6.8 for more layers than a page of options can name.
func Run(ctx context.Context, spec Spec) (created []string, err error) {
	cfg, err := newChildConfig(spec)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding sandbox config: %w", err)
	}

	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating sandbox pipe: %w", err)
	}
	defer cfgW.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		return nil, fmt.Errorf("creating sandbox pipe: %w", err)
	}
	defer repR.Close()

	cmd := exec.CommandContext(ctx, "/proc/self/exe")
	cmd.Args = []string{"ibuild-sandbox"}
	cmd.Env = []string{childEnv + "=1"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = spec.Stdin, spec.Stdout, spec.Stderr
	cmd.ExtraFiles = []*os.File{cfgR, repW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneFlags(cfg), Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	cfgR.Close()
	repW.Close()
	if errors.Is(err, unix.EPERM) && os.Geteuid() != 0 {
		return nil, fmt.Errorf("starting sandbox for %s: %w (not root: call EnterUserNS first)",
			cfg.Args[0], err)
	}
	if err != nil {
		return nil, fmt.Errorf("starting sandbox for %s: %w", cfg.Args[0], err)
	}

	// A write error means the child died early; Wait tells why.
	_, _ = cfgW.Write(payload)
	cfgW.Close()
	rep, repErr := readReport(repR)
	waitErr := cmd.Wait()
	if rep != nil {
		created = rep.Created
	}
	return created, runResult(ctx, cfg.Args[0], rep, repErr, waitErr)
}

func cloneFlags(cfg *childConfig) uintptr {
	flags := unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC
	if cfg.NewNet {
		flags |= unix.CLONE_NEWNET
	}
	return uintptr(flags)
}

func readReport(r io.Reader) (*childReport, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading sandbox report: %w", err)
	}
	if len(b) == 0 {
		return nil, nil
	}
	var rep childReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("decoding sandbox report: %w", err)
	}
	return &rep, nil
}

// runResult turns what the child reported and how it ended into Run's error.
func runResult(ctx context.Context, name string, rep *childReport, repErr, waitErr error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("running %s: %w", name, context.Cause(ctx))
	case rep != nil && rep.NotFound:
		return fmt.Errorf("%s: %w", rep.Err, ErrCommandNotFound)
	case rep != nil && rep.Err != "":
		return fmt.Errorf("setting up sandbox for %s: %s", name, rep.Err)
	case repErr != nil:
		return repErr
	}

	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		if waitErr != nil {
			return fmt.Errorf("running %s: %w", name, waitErr)
		}
		return nil
	}
	code := ee.ExitCode()
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	if rep == nil {
		return fmt.Errorf("sandbox for %s ended during setup (status %d; "+
			"does main call sandbox.Main first?)", name, code)
	}
	return &ExitError{Code: code}
}

// newChildConfig checks spec and fills in defaults and generated files.
func newChildConfig(spec Spec) (*childConfig, error) {
	if len(spec.Args) == 0 || spec.Args[0] == "" {
		return nil, errors.New("running sandbox: no command")
	}
	cfg := &childConfig{
		Args: spec.Args, Env: withPath(spec.Env), Cwd: "/",
		UID: spec.UID, GID: spec.GID, Groups: spec.AdditionalGIDs,
		Hostname: spec.Hostname, Mounts: spec.Mounts,
	}
	if spec.Cwd != "" {
		cfg.Cwd = path.Clean("/" + spec.Cwd)
	}
	if cfg.Hostname == "" {
		cfg.Hostname = DefaultHostname
	}
	var err error
	if spec.RootDir != "" {
		if cfg.RootDir, err = absDir("root", spec.RootDir); err != nil {
			return nil, err
		}
	} else if cfg.Upper, err = absDir("upper", spec.Upper); err != nil {
		return nil, err
	}
	if cfg.Work, err = absDir("work", spec.Work); err != nil {
		return nil, err
	}
	for _, l := range spec.Lowers {
		abs, err := absDir("lower", l)
		if err != nil {
			return nil, err
		}
		cfg.Lowers = append(cfg.Lowers, abs)
	}
	if err := checkMounts(spec.Mounts); err != nil {
		return nil, err
	}
	if err := checkIDs(cfg); err != nil {
		return nil, err
	}

	switch spec.Network {
	case "", NetworkHost:
		cfg.Resolv = hostResolvConf()
	case NetworkNone:
		cfg.NewNet = true
		cfg.Resolv = "# no network (--network=none)\n"
	default:
		return nil, fmt.Errorf("running sandbox: unknown network mode %q", spec.Network)
	}
	cfg.Hosts = fmt.Sprintf("127.0.0.1\tlocalhost %s\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		cfg.Hostname)
	return cfg, nil
}

func absDir(what, dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("running sandbox: no %s directory", what)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving %s directory %s: %w", what, dir, err)
	}
	return abs, nil
}

func checkMounts(mounts []Mount) error {
	for _, m := range mounts {
		if !path.IsAbs(m.Target) {
			return fmt.Errorf("mount target %q: not an absolute path", m.Target)
		}
		if m.Type != "bind" && m.Type != "tmpfs" {
			return fmt.Errorf("mount on %s: unsupported type %q", m.Target, m.Type)
		}
	}
	return nil
}

// withPath returns env with PATH=DefaultPath appended when it has no PATH.
func withPath(env []string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "PATH=") {
			return env
		}
	}
	return append(env[:len(env):len(env)], "PATH="+DefaultPath)
}

// hostResolvConf returns the host's resolv.conf, or public resolvers as Docker
// does when the host has none.
func hostResolvConf() string {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil || len(b) == 0 {
		return "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
	}
	return string(b)
}
