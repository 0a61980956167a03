package builder

import (
	"archive/tar"
	"strings"
	"testing"
)

// copyCase builds a Dockerfile FROM scratch over a context and checks the
// resulting file tree against what Docker's reference says.
type copyCase struct {
	name       string
	dockerfile string
	files      []ctxFile
	want       map[string]node
	absent     []string
	wantErr    string
}

func runCopyCases(t *testing.T, cases []copyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctxDir := t.TempDir()
			writeContext(t, ctxDir, tc.files)
			img, err := buildImage(t, ctxDir, tc.dockerfile, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkTree(t, flatten(t, img), tc.want, tc.absent)
		})
	}
}

func TestCopySourcesAndDestinations(t *testing.T) {
	runCopyCases(t, []copyCase{{
		name:       "directory contents not the directory",
		dockerfile: "FROM scratch\nCOPY files/ /modes/\n",
		files: []ctxFile{
			{path: "files/a.sh", content: "a", mode: 0o750},
			{path: "files/private", dir: true, mode: 0o700},
			{path: "files/private/b", content: "b", mode: 0o604},
			{path: "files/special", content: "s", mode: 0o4755},
			{path: "files/sgid", dir: true, mode: 0o3775},
		},
		want: map[string]node{
			"modes":           dir(0o755),
			"modes/a.sh":      reg("a", 0o750),
			"modes/private":   dir(0o700),
			"modes/private/b": reg("b", 0o604),
			"modes/special":   reg("s", 0o4755),
			"modes/sgid":      dir(0o3775),
		},
		absent: []string{"modes/files"},
	}, {
		name:       "file to new name, into slash dir, relative to workdir",
		dockerfile: "FROM scratch\nWORKDIR /w\nCOPY f.txt g.txt\nCOPY f.txt sub/\nCOPY f.txt .\n",
		files:      []ctxFile{{path: "f.txt", content: "F"}},
		want: map[string]node{
			"w/g.txt":     reg("F", 0o644),
			"w/sub/f.txt": reg("F", 0o644),
			"w/f.txt":     reg("F", 0o644),
			"w/sub":       dir(0o755),
		},
	}, {
		name: "file into an existing directory without slash",
		dockerfile: "FROM scratch\nCOPY f.txt /opt/conf.d/keep\nCOPY f.txt /opt/conf.d\n" +
			"COPY f.txt /opt/new\n",
		files: []ctxFile{{path: "f.txt", content: "F"}},
		want: map[string]node{
			"opt/conf.d/f.txt": reg("F", 0o644),
			"opt/new":          reg("F", 0o644),
		},
	}, {
		name:       "wildcards",
		dockerfile: "FROM scratch\nCOPY *.txt /t/\nCOPY d?/[ab].md /m/\nCOPY *.none /n/\n",
		files: []ctxFile{
			{path: "a.txt", content: "a"}, {path: "b.txt", content: "b"},
			{path: "c.md", content: "c"}, {path: "d1/a.md", content: "da"},
			{path: "d2/b.md", content: "db"}, {path: "d2/c.md", content: "dc"},
		},
		want: map[string]node{
			"t/a.txt": reg("a", 0o644), "t/b.txt": reg("b", 0o644),
			"m/a.md": reg("da", 0o644), "m/b.md": reg("db", 0o644),
		},
		absent: []string{"t/c.md", "m/c.md", "n"},
	}, {
		name:       "several sources need a directory",
		dockerfile: "FROM scratch\nCOPY a.txt b.txt /dest\n",
		files:      []ctxFile{{path: "a.txt"}, {path: "b.txt"}},
		wantErr:    "the destination must be a directory and end with a /",
	}, {
		name:       "wildcard matching several files needs a directory",
		dockerfile: "FROM scratch\nCOPY *.txt /dest\n",
		files:      []ctxFile{{path: "a.txt"}, {path: "b.txt"}},
		wantErr:    "the destination must be a directory and end with a /",
	}, {
		name:       "missing source is named",
		dockerfile: "FROM scratch\nCOPY missing.txt /\n",
		wantErr:    `"/missing.txt": not found`,
	}, {
		name:       "dot-dot stays in the context",
		dockerfile: "FROM scratch\nCOPY ../../../etc/hostname /x\n",
		wantErr:    `"/etc/hostname": not found`,
	}, {
		name:       "dot-dot resolves inside the context",
		dockerfile: "FROM scratch\nCOPY ../../sub/../f.txt /x\n",
		files:      []ctxFile{{path: "f.txt", content: "F"}},
		want:       map[string]node{"x": reg("F", 0o644)},
	}, {
		name:       "hard links stay hard links",
		dockerfile: "FROM scratch\nCOPY d/ /d/\n",
		files:      []ctxFile{{path: "d/a", content: "same"}, {path: "d/b", hard: "d/a"}},
		want: map[string]node{
			"d/a": reg("same", 0o644),
			"d/b": {Type: tar.TypeLink, Link: "d/a", Mode: 0o644},
		},
	}})
}
