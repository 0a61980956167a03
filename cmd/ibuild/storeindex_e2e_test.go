package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ibuild/ibuild/registry"
)

// sbomContext is a small build context; built with --sbom it gives an image
// index (the image and its attestation manifest), without it the image.
func sbomContext(c *cli) string {
	return c.context(map[string]string{"Dockerfile": "FROM scratch\nCOPY a /a\n", "a": "a\n"})
}

// buildID builds ctx into root with args and returns the image ID printed.
func buildID(c *cli, root, ctx string, args ...string) string {
	c.t.Helper()
	args = append(append([]string{"--root", root, "-q"}, args...), ctx)
	return strings.TrimSpace(c.ok(args...).stdout)
}

// entryDigests reads the store's index.json: the digest of each name
// ("app:latest"), and of the untagged entries under "".
func entryDigests(t *testing.T, root string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal(b, &im); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, d := range im.Manifests {
		n := registry.FamiliarName(d.Annotations[registry.AnnotationImageName])
		out[n] = append(out[n], d.Digest.String())
	}
	return out
}

// TestRebuildWithSBOM rebuilds a tag with --sbom: the tag moves to the
// index, no <none> image is left, `images` shows one row per tag with the
// image's ID and size, and `rm ID` removes it.
func TestRebuildWithSBOM(t *testing.T) {
	c := newCLI(t)
	root, ctx := t.TempDir(), sbomContext(c)
	plain := buildID(c, root, ctx, "-t", "app:1")
	id := buildID(c, root, ctx, "--sbom", "-t", "app:1", "-t", "app:2")
	if id != plain {
		t.Fatalf("the rebuild with --sbom has ID %s, the build without %s: not the same image",
			id, plain)
	}
	if got := entryDigests(t, root)[""]; len(got) != 0 {
		t.Errorf("the rebuild left untagged entries %v", got)
	}

	size, err := strconv.ParseInt(strings.TrimSpace(c.ok("inspect", "--root", root, "-f",
		"{{.Size}}", "app:1").stdout), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	short := strings.TrimPrefix(id, "sha256:")[:12]
	rows := lines(c.ok("images", "--root", root, "--format",
		"{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}").stdout)
	want := []string{"app:1 " + short + " " + humanSize(size), "app:2 " + short + " " +
		humanSize(size)}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}

	out := c.ok("rm", "--root", root, short).stdout
	if w := "Untagged: app:1\nUntagged: app:2\nDeleted: " + id + "\n"; out != w {
		t.Errorf("rm %s printed %q, want %q", short, out, w)
	}
	if got := c.ok("images", "--root", root, "-q").stdout; got != "" {
		t.Errorf("images after rm: %q", got)
	}
}

// TestRemoveIndexAndImageByID removes by ID an image stored both as an
// untagged image manifest and as a tagged index listing it (what a
// rebuild with --sbom left before): one image, removed whole; with names
// in two repositories only with --force.
func TestRemoveIndexAndImageByID(t *testing.T) {
	for _, tc := range []struct {
		name     string
		other    bool // the image manifest is also tagged other/x
		args     []string
		wantCode int
		wantOut  string
	}{
		{name: "one repository", wantOut: "Untagged: app:latest\nDeleted: "},
		{name: "two repositories", other: true, wantCode: 1},
		{name: "two repositories, forced", other: true, args: []string{"-f"},
			wantOut: "Untagged: app:latest\nUntagged: other/x:latest\nDeleted: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCLI(t)
			root, ctx := t.TempDir(), sbomContext(c)
			id := buildID(c, root, ctx)
			buildID(c, root, ctx, "--sbom", "-t", "app")
			if tc.other {
				c.ok("tag", "--root", root, entryDigests(t, root)[""][0], "other/x")
			}
			short := strings.TrimPrefix(id, "sha256:")[:12]
			args := append(append([]string{"rm", "--root", root}, tc.args...), short)
			r := c.run(nil, args...)
			if r.code != tc.wantCode {
				t.Fatalf("rm: exit %d, want %d\n%s", r.code, tc.wantCode, r.stderr)
			}
			if tc.wantCode != 0 {
				if !strings.Contains(r.stderr, "several repositories") {
					t.Errorf("rm of an image in two repositories: %s", r.stderr)
				}
				return
			}
			if w := tc.wantOut + id + "\n"; r.stdout != w {
				t.Errorf("rm printed %q, want %q", r.stdout, w)
			}
			if got := c.ok("images", "--root", root, "-q").stdout; got != "" {
				t.Errorf("images after rm: %q", got)
			}
		})
	}
}

// TestInspectIndexNames inspects a tag that names an index and one that
// names the image manifest it lists: each shows its own names and digest,
// and RootFS has Docker's field names.
func TestInspectIndexNames(t *testing.T) {
	c := newCLI(t)
	root, ctx := t.TempDir(), sbomContext(c)
	buildID(c, root, ctx, "-t", "plain")
	buildID(c, root, ctx, "--sbom", "-t", "app")
	digests := entryDigests(t, root)
	for _, tc := range []struct {
		ref              string
		tags, repoDigest []string
	}{
		{"app", []string{"app:latest"}, []string{"app@" + digests["app:latest"][0]}},
		{"plain", []string{"plain:latest"}, []string{"plain@" + digests["plain:latest"][0]}},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			c := &cli{t: t, dir: c.dir, env: c.env}
			out := c.ok("inspect", "--root", root, tc.ref).stdout
			var res []struct {
				RepoTags, RepoDigests []string
				RootFS                map[string]any
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 {
				t.Fatalf("inspect %s: %v\n%s", tc.ref, err, out)
			}
			if diff := cmp.Diff(tc.tags, res[0].RepoTags); diff != "" {
				t.Errorf("RepoTags (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.repoDigest, res[0].RepoDigests); diff != "" {
				t.Errorf("RepoDigests (-want +got):\n%s", diff)
			}
			var keys []string
			for k := range res[0].RootFS {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if diff := cmp.Diff([]string{"Layers", "Type"}, keys); diff != "" {
				t.Errorf("RootFS fields (-want +got):\n%s", diff)
			}
			got := c.ok("inspect", "--root", root, "-f", "{{.RootFS.Type}} {{len .RootFS.Layers}}",
				tc.ref).stdout
			if got != "layers 1\n" {
				t.Errorf("inspect -f '{{.RootFS.Type}} {{len .RootFS.Layers}}' = %q", got)
			}
		})
	}
}

// TestPruneDanglingImages prunes a store with a tagged and an untagged
// image: the untagged one goes, as `docker image prune` does, and prune
// says how many.
func TestPruneDanglingImages(t *testing.T) {
	c := newCLI(t)
	root, appID, _ := storeImages(t, c)
	out := c.ok("prune", "--root", root, "-f").stdout
	if !strings.Contains(out, "Deleted images:          1\n") {
		t.Errorf("prune output lacks the one image deleted:\n%s", out)
	}
	ids := lines(c.ok("images", "--root", root, "-q").stdout)
	if diff := cmp.Diff([]string{strings.TrimPrefix(appID, "sha256:")[:12]}, ids); diff != "" {
		t.Errorf("images after prune (-want +got):\n%s", diff)
	}
	c.ok("inspect", "--root", root, "app:1")
	out = c.ok("prune", "--root", root, "-f").stdout
	if !strings.Contains(out, "Deleted images:          0\n") {
		t.Errorf("second prune:\n%s", out)
	}
}

// TestIndexWithoutHostPlatform lists, inspects and prunes a store holding
// an index built for two other platforms: the index stands for its first
// image, as it has no image for the host.
func TestIndexWithoutHostPlatform(t *testing.T) {
	if a := registry.HostPlatform().Architecture; a == "s390x" || a == "ppc64le" {
		t.Skipf("the host is %s, one of the platforms built", a)
	}
	c := newCLI(t)
	root := t.TempDir()
	buildID(c, root, sbomContext(c), "--platform", "linux/s390x,linux/ppc64le", "-t", "multi")
	got := c.ok("inspect", "--root", root, "-f", "{{.Id}} {{.Os}}/{{.Architecture}}",
		"multi").stdout
	id, platform, _ := strings.Cut(strings.TrimSpace(got), " ")
	if platform != "linux/s390x" && platform != "linux/ppc64le" {
		t.Errorf("inspect multi: %q, want an image of the index", got)
	}
	rows := lines(c.ok("images", "--root", root, "--format", "{{.Repository}} {{.ID}}").stdout)
	want := []string{"multi " + strings.TrimPrefix(id, "sha256:")[:12]}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	c.ok("prune", "--root", root, "-f")
	c.ok("inspect", "--root", root, "multi")
}
