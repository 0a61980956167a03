package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestUsageErrors checks that command-line mistakes exit with 2 and point
// at --help, and that a failed build exits with 1.
func TestUsageErrors(t *testing.T) {
	c := newCLI(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown command", []string{"imgaes"}, []string{`unknown command "imgaes"`, "images",
			"--help"}},
		{"unknown flag", []string{"--bogus", "."}, []string{"unknown flag: --bogus", "--help"}},
		{"unknown subcommand flag", []string{"images", "--nope"}, []string{"--nope",
			"ibuild images --help"}},
		{"missing argument", []string{"tag", "x"},
			[]string{"needs exactly 2", "ibuild tag --help"}},
		{"too many", []string{"prune", "x"}, []string{"needs exactly 0", "--help"}},
		{"bad progress", []string{"--progress=fancy", "."}, []string{"use auto, plain"}},
		{"not a context", []string{"./nowhere"}, []string{"is not a directory", "--help"}},
		{"unknown shell", []string{"completion", "tcsh"}, []string{`unknown shell "tcsh"`}},
		{"context forgotten", []string{"-t", "app"}, []string{"missing the build context"}},
		{"bad tag before building", []string{"-t", "Bad:Tag!", "."}, []string{`-t "Bad:Tag!"`}},
		{"push without a name", []string{"--push", "."}, []string{"pushing needs a name"}},
		{"platform typo", []string{"--platform", "linux/amd63", "."},
			[]string{`unknown architecture "amd63" (did you mean amd64?)`}},
		{"not linux", []string{"--platform", "windows/amd64", "."}, []string{"linux images only"}},
		{"tag with a bad name", []string{"tag", "x", "Bad Name"}, []string{"not a valid name"}},
		{"docker format and zstd", []string{"--format", "docker", "--compression", "zstd", "."},
			[]string{"--format docker cannot hold zstd"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { c.fails(2, tc.want, tc.args...) })
	}
	ctx := c.context(map[string]string{"Dockerfile": "FROM scratch\nCOPY missing /x\n"})
	c.fails(1, []string{"Dockerfile:2", "COPY missing /x", "^^^^^^^", "not found"},
		"--root", t.TempDir(), "--progress=plain", ctx)
	c.fails(2, []string{`target stage "nope" not found`, "stages have no names"},
		"--root", t.TempDir(), "--target", "nope", ctx)
}

// TestErrorsEndToEnd checks whole error reports of failed builds against
// golden files, times and digests masked.
func TestErrorsEndToEnd(t *testing.T) {
	c := newCLI(t)
	root := t.TempDir()
	tests := []struct{ name, dockerfile string }{
		{"copy_missing", "FROM scratch\nCOPY a /a\nCOPY nothere /srv/\n"},
		{"flag_typo", "FROM scratch\nCOPY --chmown=1 a /a\n"},
		{"instruction_typo", "FROM scratch\nCOPPY a /a\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := c.context(map[string]string{"Dockerfile": tc.dockerfile, "a": "a"})
			r := c.run(nil, "--root", root, "--progress=plain", ctx)
			if r.code != 1 {
				t.Errorf("exit %d, want 1", r.code)
			}
			golden(t, "e2e_error_"+tc.name, mask(r.stderr))
		})
	}
}

// TestPlainEndToEnd builds twice with --progress=plain: the second build
// is all CACHED.
func TestPlainEndToEnd(t *testing.T) {
	c := newCLI(t)
	root := t.TempDir()
	ctx := c.context(map[string]string{
		"Dockerfile": "FROM scratch\nCOPY a /a\nENV A=1\nCMD [\"/a\"]\n", "a": "a"})
	first := c.ok("--root", root, "--progress=plain", "-t", "app:1", ctx)
	second := c.ok("--root", root, "--progress=plain", "-t", "app:1", ctx)
	golden(t, "e2e_plain_first", mask(first.stderr))
	golden(t, "e2e_plain_cached", mask(second.stderr))
	if first.stdout != "" {
		t.Errorf("a build printed on stdout: %q", first.stdout)
	}
}

// TestQuietAndMetadata checks -q (only the image ID on stdout), --iidfile
// and the --metadata-file keys buildx writes.
func TestQuietAndMetadata(t *testing.T) {
	c := newCLI(t)
	root := t.TempDir()
	ctx := c.context(map[string]string{"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "a"})
	md := filepath.Join(t.TempDir(), "md.json")
	iid := filepath.Join(t.TempDir(), "iid")
	r := c.ok("--root", root, "-q", "-t", "app:1", "-t", "app:latest", "--metadata-file", md,
		"--iidfile", iid, ctx)
	if r.stderr != "" {
		t.Errorf("-q printed on stderr: %q", r.stderr)
	}
	id, _ := os.ReadFile(iid)
	if r.stdout != string(id)+"\n" || !strings.HasPrefix(r.stdout, "sha256:") {
		t.Errorf("-q printed %q, --iidfile holds %q", r.stdout, id)
	}
	m := readJSON(t, md)
	digest := inspectDigest(t, c, root, "app:1")
	want := map[string]any{
		"containerimage.digest":        digest,
		"containerimage.config.digest": string(id),
		"image.name":                   "app:1,app:latest",
	}
	got := map[string]any{}
	for k := range want {
		got[k] = m[k]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("--metadata-file (-want +got):\n%s", diff)
	}
	desc, _ := m["containerimage.descriptor"].(map[string]any)
	if desc["digest"] != digest || desc["mediaType"] == nil || desc["size"] == nil {
		t.Errorf("containerimage.descriptor = %v", desc)
	}
}

// TestConfigPrecedence checks flags over IBUILD_* variables over the
// config file, for the store and the progress mode.
func TestConfigPrecedence(t *testing.T) {
	c := newCLI(t)
	cfgHome := t.TempDir()
	c.env = append(c.env, "XDG_CONFIG_HOME="+cfgHome)
	fileRoot, envRoot, flagRoot := t.TempDir(), t.TempDir(), t.TempDir()
	writeConfig(t, cfgHome, "# ibuild settings\nroot = \""+fileRoot+"\"\nprogress = 'rawjson'\n"+
		"registry-mirrors = [\n  \"127.0.0.1:1\", # never used\n]\n")
	ctx := c.context(map[string]string{"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "a"})

	r := c.ok("-t", "fromfile", ctx)
	if !strings.HasPrefix(r.stderr, `{"vertexes":`) {
		t.Errorf("progress from the config file is not rawjson:\n%s", r.stderr)
	}
	if !strings.Contains(c.ok("images", "--root", fileRoot).stdout, "fromfile") {
		t.Errorf("the config file's root was not used")
	}

	c.env = append(c.env, "IBUILD_ROOT="+envRoot, "IBUILD_PROGRESS=plain")
	r = c.ok("-t", "fromenv", ctx)
	if !strings.HasPrefix(r.stderr, "#1 ") {
		t.Errorf("IBUILD_PROGRESS=plain did not win over the file:\n%s", r.stderr)
	}
	if got := c.ok("images").stdout; !strings.Contains(got, "fromenv") ||
		strings.Contains(got, "fromfile") {
		t.Errorf("IBUILD_ROOT did not win over the file:\n%s", got)
	}

	r = c.ok("--root", flagRoot, "--progress=quiet", "-t", "fromflag", ctx)
	if r.stderr != "" {
		t.Errorf("--progress=quiet did not win over IBUILD_PROGRESS:\n%s", r.stderr)
	}
	if !strings.Contains(c.ok("images", "--root", flagRoot).stdout, "fromflag") {
		t.Errorf("--root did not win over IBUILD_ROOT")
	}

	writeConfig(t, cfgHome, "root = \"x\"\nmirrors = [\"a\"]\n")
	c.fails(2, []string{"config.toml:2: unknown key \"mirrors\""}, "images")
}

func writeConfig(t *testing.T, home, text string) {
	t.Helper()
	dir := filepath.Join(home, "ibuild")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCompletion checks the completion scripts and the completion of
// image names from the store.
func TestCompletion(t *testing.T) {
	c := newCLI(t)
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if out := c.ok("completion", sh).stdout; !strings.Contains(out, "ibuild") {
			t.Errorf("completion %s printed no script", sh)
		}
	}
	root, _, _ := storeImages(t, c)
	out := c.ok("__complete", "tag", "--root", root, "ap").stdout
	if got := lines(out); len(got) < 2 || got[0] != "app:1" {
		t.Errorf("completing image names: %q", got)
	}
}

// TestHelpHasExamples checks that every command's help has an example.
func TestHelpHasExamples(t *testing.T) {
	c := newCLI(t)
	for _, cmd := range []string{"build", "images", "push", "tag", "rm", "save", "load",
		"inspect", "prune", "login", "logout", "completion"} {
		if out := c.ok(cmd, "--help").stdout; !strings.Contains(out, "Examples:") {
			t.Errorf("ibuild %s --help has no examples:\n%s", cmd, out)
		}
	}
	if v := c.ok("version").stdout; !strings.HasPrefix(v, "ibuild ") {
		t.Errorf("version printed %q", v)
	}
}
