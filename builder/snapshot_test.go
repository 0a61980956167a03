package builder

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// TestCopySnapshotterMatchesOverlay builds RUN steps that create, change,
// link, chown and delete files (in the base image too) once over overlayfs
// and once with the copy snapshotter: both must give the same layers.
func TestCopySnapshotterMatchesOverlay(t *testing.T) {
	df := "FROM busybox\n" +
		"RUN mkdir -p /data/keep /data/drop && echo 1 > /data/keep/f1 && echo 2 > /data/keep/f2 && " +
		"echo 3 > /data/keep/f3 && echo d > /data/drop/d\n" +
		"RUN rm -r /data/drop /bin/ls && echo changed > /data/keep/f1 && chmod 600 /data/keep/f2 && " +
		"ln /data/keep/f3 /data/keep/f3.hard && ln -s f1 /data/keep/f1.sym && " +
		"chown 1000:1000 /data/keep/f2\n" +
		"RUN rm -rf /data/keep && mkdir /data/keep && echo new > /data/keep/only && " +
		"touch /etc/hosts.allow\n"
	digests := map[string]string{}
	for _, mode := range []string{"overlay", "copy"} {
		t.Run(mode, func(t *testing.T) {
			if mode == "copy" {
				t.Setenv(snapshotterEnv, "copy")
			}
			img, err := buildImage(t, t.TempDir(), df, withBusybox(t, func(o *Options) {
				o.Epoch = epochForTest()
			}))
			if err != nil {
				t.Fatal(err)
			}
			if err := validate.Image(img); err != nil {
				t.Fatal(err)
			}
			files := flatten(t, img)
			for _, p := range []string{"bin/ls", "data/drop", "data/keep/f1"} {
				if _, ok := files[p]; ok {
					t.Errorf("/%s should be gone", p)
				}
			}
			if files["data/keep/only"].Content != "new\n" {
				t.Errorf("/data/keep/only = %+v", files["data/keep/only"])
			}
			d, _ := img.Digest()
			digests[mode] = d.String()
		})
	}
	if digests["overlay"] != digests["copy"] {
		t.Errorf("overlay and copy snapshotters differ: %v", digests)
	}
}
