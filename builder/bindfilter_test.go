package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBindMountHonoursDockerignore checks that RUN --mount=type=bind of the
// context shows what the build context shows, as BuildKit does: no file
// .dockerignore excludes, re-included ones there; a rw mount's writes do
// not reach the context; an excluded source is not found.
func TestBindMountHonoursDockerignore(t *testing.T) {
	dir := t.TempDir()
	writeContext(t, dir, []ctxFile{
		{path: ".dockerignore", content: "secret.txt\nbuild\n*.log\n!keep.log\n"},
		{path: "main.c", content: "int main;"}, {path: "secret.txt", content: "s3cret"},
		{path: "build/out.o", content: "obj"}, {path: "a.log", content: "x"},
		{path: "keep.log", content: "k"}, {path: "sub/ok", content: "ok"},
	})
	df := "FROM busybox\nRUN --mount=type=bind,target=/ctx mkdir /out && " +
		"cd /ctx && find . -type f | sort > /out/ro\n" +
		"RUN --mount=type=bind,target=/ctx,rw echo new > /ctx/new && " +
		"find /ctx/sub -type f > /out/rw\n"
	got := runFilesIn(t, dir, df)
	want := map[string]string{"ro": "./.dockerignore\n./keep.log\n./main.c\n./sub/ok\n",
		"rw": "/ctx/sub/ok\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Errorf("a write to a rw bind mount reached the context")
	}
	_, err := buildImage(t, dir,
		"FROM busybox\nRUN --mount=type=bind,source=secret.txt,target=/s cat /s\n",
		withBusybox(t, nil))
	if err == nil || !strings.Contains(err.Error(), "excluded by .dockerignore") {
		t.Errorf("mount of an excluded file: %v", err)
	}
}

// runFilesIn builds dockerfile with the context dir and returns /out's files.
func runFilesIn(t *testing.T, dir, dockerfile string) map[string]string {
	t.Helper()
	img, err := buildImage(t, dir, dockerfile, withBusybox(t, nil))
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	out := map[string]string{}
	for p, n := range flatten(t, img) {
		if strings.HasPrefix(p, "out/") {
			out[strings.TrimPrefix(p, "out/")] = n.Content
		}
	}
	return out
}
