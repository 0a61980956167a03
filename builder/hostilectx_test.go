package builder

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestHostileContext tries every way a Dockerfile and its context could
// read a file outside the context or a stage: symlinks and ".." for COPY,
// ADD and RUN --mount=type=bind, and COPY --from paths climbing out of a
// stage's root. Each build fails or copies something else; the secret
// beside the context never reaches the image.
func TestHostileContext(t *testing.T) {
	// BASE/outside/victim is the file to steal; BASE/ctx is the context and
	// BASE/root the store, whose views are BASE/root/tmp/view-*.
	base := t.TempDir()
	secret := randomSecret(t, "outside")
	victim := filepath.Join(base, "outside", "victim")
	writeContext(t, filepath.Dir(victim), []ctxFile{{path: "victim", content: secret}})
	ctxDir := filepath.Join(base, "ctx")
	evilTar := hostileTar(t, []hostileEntry{
		{name: "../../../../outside/victim", body: "from the archive"},
		{name: "/abs", body: "absolute"},
	})
	writeContext(t, ctxDir, []ctxFile{
		{path: "abs", link: victim},
		{path: "rel", link: "../outside/victim"},
		{path: "dirlink", link: filepath.Dir(victim)},
		{path: "reldir", link: "../outside"},
		{path: "inner/up", link: "../../outside/victim"},
	})
	writeBytes(t, ctxDir, "evil.tar", evilTar)

	climb := "../../../outside/victim"
	tests := []struct {
		name string
		df   string
	}{
		{"COPY an absolute symlink", "COPY abs /x"},
		{"COPY a relative symlink", "COPY rel /x"},
		{"COPY through a symlinked directory", "COPY dirlink/victim /x"},
		{"COPY a symlinked directory", "COPY reldir/ /x/"},
		{"COPY a symlink below a directory", "COPY inner/up /x"},
		{"COPY the whole context", "COPY . /x/"},
		{"COPY with dot-dot", "COPY ../outside/victim /x"},
		{"COPY a glob through a symlink", "COPY dirlink/* /x/"},
		{"ADD a symlink", "ADD rel /x"},
		{"ADD an archive with dot-dot entries", "ADD evil.tar /x/"},
		{"bind mount a symlink", "RUN --mount=type=bind,source=rel,target=/m cat /m > /x || true"},
		{"bind mount with dot-dot", "RUN --mount=type=bind,source=../outside,target=/m " +
			"cat /m/victim > /x || true"},
		{"rw bind mount a symlinked directory",
			"RUN --mount=type=bind,source=reldir,target=/m,rw cat /m/victim > /x || true"},
		{"COPY --from climbing out of a stage", "COPY --from=stage " + climb + " /x"},
		{"COPY --from a symlink out of a stage", "COPY --from=stage /evil /x"},
		{"COPY --from a symlinked directory", "COPY --from=stage /evildir/victim /x"},
		{"bind mount from a stage climbing out",
			"RUN --mount=type=bind,from=stage,source=" + climb + ",target=/m cat /m > /x || true"},
		{"bind mount a symlink of a stage",
			"RUN --mount=type=bind,from=stage,source=/evil,target=/m cat /m > /x || true"},
	}
	stage := "FROM busybox AS stage\nRUN ln -s " + victim + " /evil && ln -s " +
		filepath.Dir(victim) + " /evildir\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := filepath.Join(base, "root")
			defer os.RemoveAll(root)
			df := stage + "FROM busybox\n" + tt.df + "\n"
			img, _, err := buildIn(t, root, ctxDir, df, nil)
			if err != nil {
				t.Logf("refused: %v", err)
				return
			}
			for p, n := range flatten(t, img) {
				if strings.Contains(n.Content, secret) || strings.Contains(n.Link, secret) {
					t.Errorf("/%s holds the file from outside the context", p)
				}
			}
			if b, _ := os.ReadFile(victim); string(b) != secret {
				t.Errorf("the file outside the context changed: %q", b)
			}
		})
	}
}

// TestDeepContext copies a context nested 10,000 directories deep: the
// build fails with a clear error or works; it does not crash.
func TestDeepContext(t *testing.T) {
	ctxDir := t.TempDir()
	deepTree(t, ctxDir, 10000)
	img, err := buildImage(t, ctxDir, "FROM scratch\nCOPY . /x/\n", nil)
	if err == nil {
		t.Logf("copied %d entries", len(flatten(t, img)))
		return
	}
	if !strings.Contains(err.Error(), "file name too long") {
		t.Errorf("error %v, want one saying the name is too long", err)
	}
	if len(err.Error()) > 32<<10 {
		t.Errorf("the error is %d bytes long", len(err.Error()))
	}
}

// deepTree makes depth nested directories d/d/... below dir, each made
// relative to the last, which path-based calls could not.
func deepTree(t *testing.T, dir string, depth int) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range depth {
		if err := unix.Mkdirat(fd, "d", 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := unix.Openat(fd, "d", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd = next
	}
	unix.Close(fd)
}

// TestDockerfileLimits feeds the parser what a hostile Dockerfile holds:
// NUL bytes, a line longer than the parser reads, a huge file. Errors name
// the line; nothing crashes.
func TestDockerfileLimits(t *testing.T) {
	var huge bytes.Buffer
	huge.WriteString("FROM scratch\n")
	for i := range 100000 {
		huge.WriteString("LABEL l" + strings.Repeat("x", 80) + string(rune('a'+i%26)) + "=v\n")
	}
	tests := []struct {
		name    string
		src     string
		wantErr string // "" for success
	}{
		{"NUL byte", "FROM scratch\nENV A=1\nRUN echo \x00\n", "Dockerfile:3: "},
		{"NUL byte in a heredoc", "FROM scratch\nRUN <<EOF\nx\x00\nEOF\n", "Dockerfile:3: "},
		{"line beyond 64 KiB", "FROM scratch\nLABEL a=" + strings.Repeat("x", 70000) + "\n",
			"Dockerfile:2: dockerfile line greater than max allowed size"},
		{"10 MB, 100k instructions", huge.String(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := parseDockerfile("Dockerfile", []byte(tt.src))
			if tt.wantErr == "" {
				if err != nil || len(df.stages) != 1 {
					t.Errorf("parse: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one starting %q", err, tt.wantErr)
			}
			var ie *InstructionError
			if !errors.As(err, &ie) || ie.Line == 0 {
				t.Errorf("error %v names no line", err)
			}
		})
	}
}

// TestIgnoreFileSymlinkOutside links .dockerignore to a file outside the
// context: it is not read (the link resolves inside the context, where
// there is nothing), so neither its patterns nor, in an error, its lines
// reach the build.
func TestIgnoreFileSymlinkOutside(t *testing.T) {
	outside := filepath.Join(t.TempDir(), "patterns")
	writeBytes(t, filepath.Dir(outside), "patterns", []byte("kept\n"))
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{{path: "kept", content: "k"}, {path: ".dockerignore", link: outside}})
	img, err := buildImage(t, ctxDir, "FROM scratch\nCOPY kept /kept\n", nil)
	if err != nil {
		t.Fatalf("build: %v (the ignore file outside the context was read)", err)
	}
	if got := flatten(t, img)["kept"].Content; got != "k" {
		t.Errorf("/kept = %q", got)
	}
}
