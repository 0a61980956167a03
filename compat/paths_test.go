package compat

import (
	"path/filepath"
	"testing"

	"github.com/ibuild/ibuild/internal/testenv"
)

// TestRelativeContextPath builds a case with the context and Dockerfile
// given as relative paths with "..", as `ibuild ../app` does, and checks
// that the image is the one the absolute paths give.
func TestRelativeContextPath(t *testing.T) {
	reg := testenv.Registry(t)
	pushBases(t, reg)
	ib := ibuild{bin: testenv.Binary(t), reg: reg}
	rel, err := LoadCase(filepath.Join(casesDir, "copy-forms"))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Abs(rel.Dir)
	if err != nil {
		t.Fatal(err)
	}
	abs, err := LoadCase(dir)
	if err != nil {
		t.Fatal(err)
	}

	want, err := Flatten(ib.build(t, abs, nil, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := Flatten(ib.build(t, rel, nil, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if d := DiffTrees(got, want); len(d) > 0 {
		t.Errorf("relative paths give another image (got relative, want absolute):\n%s",
			FormatDiffs(d, 20))
	}
}
