package builder

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestWarmRebuildReadsNoBaseBlob checks that a fully cached rebuild does not
// read the base image's layer blobs (decompressing a large base to learn
// diff IDs the config already holds once made warm rebuilds slow): with the
// stored base layer blob overwritten by garbage of the same size, the
// rebuild still succeeds, every step cached, with the same digest.
func TestWarmRebuildReadsNoBaseBlob(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	writeContext(t, dir, []ctxFile{{path: "f", content: "x"}})
	df := "FROM busybox\nRUN echo 0.2 > /version\nCOPY f /f\nEXPOSE 80\n"
	build := func() (string, int) {
		misses := 0
		img, err := buildImage(t, dir, df, withBusybox(t, func(o *Options) {
			o.Root = root
			o.Progress = func(e Event) {
				if e.Kind == StepDone && !e.Cached {
					misses++
				}
			}
		}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Export(context.Background(), img, ExportOptions{Root: root}); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return d.String(), misses
	}
	first, _ := build()
	img, err := buildImage(t, dir, df, withBusybox(t, func(o *Options) { o.Root = root }))
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	base, _ := ls[0].Digest()
	blob := filepath.Join(root, "blobs", "sha256", base.Hex)
	fi, err := os.Stat(blob)
	if err != nil {
		t.Fatalf("the base layer is not in the store: %v", err)
	}
	if err := os.WriteFile(blob, make([]byte, fi.Size()), 0o644); err != nil {
		t.Fatal(err)
	}
	second, misses := build()
	if second != first || misses != 0 {
		t.Errorf("warm rebuild: digest %s (first %s), %d steps not cached", second, first, misses)
	}
}
