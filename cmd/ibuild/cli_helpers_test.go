package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ibuild/ibuild/internal/testenv"
)

// cli runs the ibuild binary in an environment of its own: no IBUILD_*
// variables, NO_COLOR or Docker config of whoever runs the tests, an empty
// config directory, and the variables the test adds.
type cli struct {
	t   *testing.T
	dir string
	env []string
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	return &cli{t: t, dir: t.TempDir(), env: []string{
		"XDG_CONFIG_HOME=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir()}}
}

// result is what one run printed and its exit code.
type result struct {
	stdout, stderr string
	code           int
}

func (c *cli) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "IBUILD_"), k == "NO_COLOR", k == "XDG_CONFIG_HOME",
			k == "DOCKER_CONFIG", k == "SOURCE_DATE_EPOCH":
			continue
		}
		env = append(env, kv)
	}
	return append(env, c.env...)
}

// run runs ibuild with args and stdin (may be nil).
func (c *cli) run(stdin io.Reader, args ...string) result {
	c.t.Helper()
	cmd := exec.Command(testenv.Binary(c.t), args...)
	cmd.Dir, cmd.Env, cmd.Stdin = c.dir, c.environ(), stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("running ibuild %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs ibuild and fails the test unless it exits 0.
func (c *cli) ok(args ...string) result {
	c.t.Helper()
	r := c.run(nil, args...)
	if r.code != 0 {
		c.t.Fatalf("ibuild %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "),
			r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs ibuild and checks its exit code and that stderr holds each
// of want.
func (c *cli) fails(code int, want []string, args ...string) result {
	c.t.Helper()
	r := c.run(nil, args...)
	if r.code != code {
		c.t.Errorf("ibuild %s: exit %d, want %d\nstderr:\n%s", strings.Join(args, " "), r.code,
			code, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			c.t.Errorf("ibuild %s: stderr lacks %q:\n%s", strings.Join(args, " "), w, r.stderr)
		}
	}
	return r
}

// context writes a build context with files (path -> content) and
// returns its directory.
func (c *cli) context(files map[string]string) string {
	c.t.Helper()
	dir := c.t.TempDir()
	for p, data := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	return dir
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
