package builder

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestDownloadProgress checks that unpacking a base layer for a RUN step
// reports the download, ending with all of the layer's bytes.
func TestDownloadProgress(t *testing.T) {
	var (
		mu   sync.Mutex
		last Event
	)
	_, err := buildImage(t, t.TempDir(), "FROM busybox\nRUN true\n", withBusybox(t, func(o *Options) {
		o.Progress = func(e Event) {
			if e.Kind == StepStatus && e.ID != "" {
				mu.Lock()
				last = e
				mu.Unlock()
			}
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(last.ID, "sha256:") || last.Total == 0 || last.Current != last.Total {
		t.Errorf("last download report %+v, want one with all bytes of a layer", last)
	}
}

// TestDownloadedOnce checks that a base layer a RUN step unpacked is kept in
// the store, so that storing the image does not download it again.
func TestDownloadedOnce(t *testing.T) {
	root := t.TempDir()
	img, err := buildImage(t, t.TempDir(), "FROM busybox\nRUN true\n",
		withBusybox(t, func(o *Options) { o.Root = root }))
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	d, _ := ls[0].Digest()
	if _, err := os.Stat(filepath.Join(root, "blobs", "sha256", d.Hex)); err != nil {
		t.Errorf("the base layer unpacked for RUN is not kept in the store: %v", err)
	}
}
