package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// diffEntries runs DiffUpper with a lower view and lists "name type".
func diffEntries(t *testing.T, upper, lower string) []string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := DiffUpper(context.Background(), upper, tw, DiffOptions{Lower: lower}); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	var out []string
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name+" "+string(h.Typeflag))
	}
}

// TestDiffUpperSkipsCopyUps checks that entries overlay copied up without a
// change stay out of the layer, as in BuildKit's result: a file linked to a
// new name (the new name becomes a plain file), a directory whose only
// change is below it (written as a parent), and an untouched copy.
func TestDiffUpperSkipsCopyUps(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	mt := time.Unix(1700000000, 0)
	for _, root := range []string{lower, upper} {
		must(t, os.MkdirAll(filepath.Join(root, "data/keep"), 0o755))
		must(t, os.WriteFile(filepath.Join(root, "data/keep/f3"), []byte("three"), 0o644))
		must(t, os.WriteFile(filepath.Join(root, "data/keep/same"), []byte("same"), 0o644))
		must(t, os.MkdirAll(filepath.Join(root, "etc"), 0o755))
		for _, p := range []string{"data/keep/f3", "data/keep/same", "data/keep", "data", "etc"} {
			must(t, os.Chtimes(filepath.Join(root, p), mt, mt))
		}
	}
	must(t, os.Link(filepath.Join(upper, "data/keep/f3"), filepath.Join(upper, "data/keep/f3.hard")))
	must(t, os.WriteFile(filepath.Join(upper, "data/keep/changed"), []byte("new"), 0o644))
	got := diffEntries(t, upper, lower)
	want := []string{"data/ 5", "data/keep/ 5", "data/keep/changed 0", "data/keep/f3.hard 0"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
