package builder

import (
	"errors"
	"path"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// FuzzIgnore checks the .dockerignore matcher the context walks use. For
// any ignore file and path: matching with the parent directories' results
// (as a walk does) says the same as matching the path alone, and a
// directory the walk prunes (excluded, and no "!" pattern may re-include
// anything below it) holds nothing that is not excluded. The seed corpus
// is in testdata/fuzz/FuzzIgnore.
func FuzzIgnore(f *testing.F) {
	f.Add("*.log\n!keep.log\n", "a/b/keep.log", "x")
	f.Add("secret/\n!secret/public/**\n", "secret", "public/f")
	f.Add("**/node_modules\n", "src/node_modules/pkg", "index.js")
	f.Fuzz(func(t *testing.T, ignore, p, child string) {
		pats, err := ignorefile.ReadAll(strings.NewReader(ignore))
		if err != nil || len(pats) == 0 {
			return
		}
		pf, err := newPathFilter(pats, true)
		if err != nil {
			return
		}
		rel := cleanRel(p)
		if rel == "" {
			return
		}
		alone, _, errAlone := pf.excluded(rel, patternmatcher.MatchInfo{})
		walked, info, errWalk := walkMatch(pf, rel)
		if (errAlone == nil) != (errWalk == nil) {
			t.Fatalf("%q: errors differ: alone %v, walked %v", rel, errAlone, errWalk)
		}
		if errAlone != nil {
			return
		}
		if alone != walked {
			t.Fatalf("patterns %q, %q: excluded alone %v, by a walk %v", pats, rel, alone, walked)
		}
		below := cleanRel(child)
		if !alone || pf.mayReinclude(rel) || below == "" {
			return
		}
		sub := path.Join(rel, below)
		ex, _, err := pf.excluded(sub, info)
		if err == nil && !ex {
			t.Fatalf("patterns %q: %q is pruned but %q below it is not excluded", pats, rel, sub)
		}
	})
}

// walkMatch matches rel the way a walk does, one component at a time, each
// with its parent's result.
func walkMatch(pf *pathFilter, rel string) (bool, patternmatcher.MatchInfo, error) {
	var (
		info patternmatcher.MatchInfo
		ex   bool
		err  error
		cur  string
	)
	for _, part := range strings.Split(rel, "/") {
		cur = path.Join(cur, part)
		if ex, info, err = pf.excluded(cur, info); err != nil {
			return false, info, err
		}
	}
	return ex, info, nil
}

// FuzzDockerfile parses any bytes as a Dockerfile and expands the variables
// of every instruction of every stage, as a build does before it runs one.
// Nothing may panic, and every parse error must name the Dockerfile. The
// seed corpus is in testdata/fuzz/FuzzDockerfile.
func FuzzDockerfile(f *testing.F) {
	f.Add([]byte("FROM busybox AS b\nARG V=1\nENV A=${V:-x} B=$A\nRUN echo $A\n"), "V", "2")
	f.Add([]byte("# escape=`\nFROM scratch\nCOPY --chown=${U}:${G} a `\n b /d/\n"), "U", "0")
	f.Add([]byte("FROM a\nRUN --mount=type=secret,id=${S},target=/s <<EOF\n$S\nEOF\n"), "S", "x")
	f.Fuzz(func(t *testing.T, src []byte, name, value string) {
		df, err := parseDockerfile("Dockerfile", src)
		if err != nil {
			var ie *InstructionError
			if !errors.As(err, &ie) || ie.File != "Dockerfile" {
				t.Fatalf("error %v does not name the Dockerfile", err)
			}
			return
		}
		env := envList{"PATH=" + defaultPath, "HOME=/root"}
		if name != "" && !strings.ContainsAny(name, "=\x00") {
			env = env.set(name, value)
		}
		lex := shell.NewLex(df.escape)
		s := &state{b: &build{lex: lex}, env: env}
		for _, st := range df.stages {
			_, _, _ = lex.ProcessWord(st.BaseName, env)
			for _, cmd := range st.Commands {
				_ = s.expand(cmd)
				if run, ok := cmd.(*instructions.RunCommand); ok {
					_ = instructions.GetMounts(run)
				}
			}
		}
	})
}
