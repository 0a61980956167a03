package builder

import (
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
