package builder

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/patternmatcher"
)

func TestDockerignore(t *testing.T) {
	base := []ctxFile{
		{path: "Dockerfile", content: "FROM scratch\n"},
		{path: "README.md", content: "r"},
		{path: "src/main.c", content: "c"},
		{path: "src/deep/x.log", content: "l"},
		{path: "dist/service.bin", content: "s"},
		{path: "dist/debug.bin", content: "d"},
		{path: "secret/key", content: "k"},
	}
	with := func(ignore string) []ctxFile {
		return append([]ctxFile{{path: ".dockerignore", content: ignore}}, base...)
	}
	runCopyCases(t, []copyCase{{
		name:       "star with an exception",
		dockerfile: "FROM scratch\nCOPY . /app/\n",
		files:      with("# drop everything\n*\n!dist/service.bin\n"),
		want:       map[string]node{"app/dist/service.bin": reg("s", 0o644), "app/dist": dir(0o755)},
		absent: []string{"app/README.md", "app/.dockerignore", "app/Dockerfile",
			"app/dist/debug.bin", "app/src"},
	}, {
		name:       "double star, leading slash, comments",
		dockerfile: "FROM scratch\nCOPY . /app/\n",
		files:      with("**/*.log\n/secret\n  # not a comment line? it is trimmed\n"),
		want: map[string]node{
			"app/src/main.c": reg("c", 0o644), "app/Dockerfile": reg("FROM scratch\n", 0o644),
			"app/.dockerignore": {Type: '0', Content: "**/*.log\n/secret\n  # not a comment " +
				"line? it is trimmed\n", Mode: 0o644},
		},
		absent: []string{"app/src/deep/x.log", "app/secret", "app/secret/key"},
	}, {
		name:       "an ignored source is not found",
		dockerfile: "FROM scratch\nCOPY secret/key /k\n",
		files:      with("secret\n"),
		wantErr:    `"/secret/key": not found`,
	}, {
		name:       "a re-included file under an ignored directory",
		dockerfile: "FROM scratch\nCOPY dist/service.bin /s\nCOPY dist /d/\nCOPY */*.bin /g/\n",
		files:      with("dist\n!dist/service.bin\n"),
		want: map[string]node{"s": reg("s", 0o644), "d/service.bin": reg("s", 0o644),
			"g/service.bin": reg("s", 0o644)},
		absent: []string{"d/debug.bin", "g/debug.bin"},
	}, {
		name:       "ignored files do not match wildcards",
		dockerfile: "FROM scratch\nCOPY *.md /m/\nCOPY README.m? /n/\n",
		files:      with("README.md\n"),
		absent:     []string{"m", "n"},
	}})
}

func TestDockerfileSpecificIgnore(t *testing.T) {
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{
		{path: ".dockerignore", content: "a.txt\n"},
		{path: "a.txt", content: "a"}, {path: "b.txt", content: "b"},
	})
	dfDir := t.TempDir()
	df := "FROM scratch\nCOPY . /app/\n"
	dfPath := filepath.Join(dfDir, "app.Dockerfile")
	if err := os.WriteFile(dfPath+".dockerignore", []byte("b.txt\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := buildImage(t, ctxDir, df, func(o *Options) {
		o.DockerfilePath, o.DockerfileName = dfPath, "app.Dockerfile"
	})
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, flatten(t, img), map[string]node{"app/a.txt": reg("a", 0o644)},
		[]string{"app/b.txt"})
}

func TestPathFilter(t *testing.T) {
	tests := []struct {
		patterns []string
		path     string
		excluded bool
		descend  bool // for an excluded directory: may a "!" pattern re-include below it
	}{
		{[]string{"*"}, "dist", true, false},
		{[]string{"*", "!dist/service.bin"}, "dist", true, true},
		{[]string{"*", "!dist/service.bin"}, "dist/service.bin", false, false},
		{[]string{"*", "!dist/service.bin"}, "src", true, false},
		{[]string{"*", "!**/*.go"}, "src", true, true},
		{[]string{"**/*.log"}, "a/b/c.log", true, false},
		{[]string{"secret"}, "secret/key", true, false},
		{[]string{"secret", "!secret/key"}, "secret/key", false, false},
		{[]string{"*.md", "!README.md"}, "README.md", false, false},
		{[]string{"!README.md", "*.md"}, "README.md", true, true},
	}
	for _, tc := range tests {
		f, err := newPathFilter(tc.patterns, true)
		if err != nil {
			t.Fatal(err)
		}
		ex, _, err := f.excluded(tc.path, patternmatcher.MatchInfo{})
		if err != nil {
			t.Fatal(err)
		}
		got := []bool{ex, ex && f.mayReinclude(tc.path)}
		if diff := cmp.Diff([]bool{tc.excluded, tc.descend}, got); diff != "" {
			t.Errorf("%q on %s: (-want +got) [excluded descend]\n%s", tc.patterns, tc.path, diff)
		}
	}
}
