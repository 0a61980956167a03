package registry

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// These tests read the outputs with other tools, where they are installed.

func requireTool(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err != nil {
		t.Skipf("%s is not installed; install it (apt-get install %s) to check outputs with it",
			tool, tool)
	}
	return p
}

// run runs a tool with a timeout and returns its standard output.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// skopeoInspect is the part of `skopeo inspect` output the tests compare.
type skopeoInspect struct {
	Digest       string
	Architecture string
	Os           string
	Layers       []string
	RepoTags     []string
}

func TestSkopeoReadsOutputs(t *testing.T) {
	skopeo := requireTool(t, "skopeo")
	ctx := context.Background()
	img := twoLayerImage(t)
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var layers, diffIDs []string
	for _, l := range m.Layers {
		layers = append(layers, l.Digest.String())
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range cf.RootFS.DiffIDs {
		diffIDs = append(diffIDs, d.String())
	}
	tmp := t.TempDir()
	tags := []string{"app:1"}
	dir, ociTar := filepath.Join(tmp, "layout"), filepath.Join(tmp, "oci.tar")
	dockerTar := filepath.Join(tmp, "docker.tar")
	if err := WriteOCILayout(ctx, dir, img, tags); err != nil {
		t.Fatal(err)
	}
	if err := WriteOCITar(ctx, ociTar, img, tags); err != nil {
		t.Fatal(err)
	}
	if err := WriteDockerTar(ctx, dockerTar, img, tags); err != nil {
		t.Fatal(err)
	}

	store, err := OpenImageStore(filepath.Join(tmp, "store"))
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save(ctx, img, tags); err != nil {
		t.Fatal(err)
	}

	tests := []struct{ name, ref string }{
		{"image store", "oci:" + store.Root + ":1"},
		{"oci layout", "oci:" + dir + ":1"},
		{"oci archive", "oci-archive:" + ociTar + ":1"},
		{"docker archive", "docker-archive:" + dockerTar},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got skopeoInspect
			if err := json.Unmarshal(run(t, skopeo, "inspect", tc.ref), &got); err != nil {
				t.Fatal(err)
			}
			want := skopeoInspect{Architecture: "amd64", Os: "linux", Layers: layers}
			if tc.name != "docker archive" {
				want.Digest = mustDigest(t, img).String()
			} else {
				// skopeo makes up the manifest of a docker archive: it names
				// the layers by diff ID, and its digest is its own.
				want.Layers = diffIDs
				got.Digest = ""
			}
			got.RepoTags = nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("skopeo inspect %s (-want +got):\n%s", tc.ref, diff)
			}
		})
	}
}

func TestUmociReadsLayout(t *testing.T) {
	umoci := requireTool(t, "umoci")
	ctx := context.Background()
	img := testImage(t, linux("amd64", ""),
		map[string]string{"etc/hello": "hello\n"}, map[string]string{"srv/data": "data\n"})
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "layout")
	if err := WriteOCILayout(ctx, dir, img, []string{"app:1"}); err != nil {
		t.Fatal(err)
	}
	stat := run(t, umoci, "stat", "--json", "--image", dir+":1")
	var st struct {
		History []json.RawMessage `json:"history"`
	}
	if err := json.Unmarshal(stat, &st); err != nil {
		t.Fatalf("umoci stat output: %v\n%s", err, stat)
	}

	bundle := filepath.Join(tmp, "bundle")
	run(t, umoci, "unpack", "--rootless", "--image", dir+":1", bundle)
	for p, want := range map[string]string{"etc/hello": "hello\n", "srv/data": "data\n"} {
		b, err := os.ReadFile(filepath.Join(bundle, "rootfs", p))
		if err != nil {
			t.Errorf("unpacked rootfs: %v", err)
			continue
		}
		if string(b) != want {
			t.Errorf("unpacked %s = %q, want %q", p, b, want)
		}
	}
}
