package builder

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ibuild/ibuild/internal/testenv"
)

// TestRunOnBareBase runs a step on a base without /proc, /dev, /sys or
// /etc: like BuildKit, the layer keeps the /proc, /dev and /sys mount
// points and nothing of /etc/hosts or /etc/resolv.conf; with either
// snapshotter.
func TestRunOnBareBase(t *testing.T) {
	bb, err := os.ReadFile(testenv.BusyboxPath)
	if err != nil {
		testenv.Require(t, "static busybox at "+testenv.BusyboxPath)
	}
	for _, mode := range []string{"overlay", "copy"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "copy" {
				t.Setenv(snapshotterEnv, "copy")
			}
			dir := t.TempDir()
			writeContext(t, dir, []ctxFile{{path: "busybox", content: string(bb), mode: 0o755}})
			img, err := buildImage(t, dir, "FROM scratch\nCOPY busybox /bin/busybox\n"+
				"RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox echo hi > /hi\"]\n", nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for p := range flatten(t, img) {
				if !strings.HasPrefix(p, "bin") {
					got = append(got, p)
				}
			}
			sort.Strings(got)
			if diff := cmp.Diff([]string{"dev", "hi", "proc", "sys"}, got); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
		})
	}
}
