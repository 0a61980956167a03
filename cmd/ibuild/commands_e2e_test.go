package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// storeImages builds two images into a new store: app:1 (two COPY layers)
// and an untagged one. It returns the store and the two image IDs.
func storeImages(t *testing.T, c *cli) (root, appID, untaggedID string) {
	t.Helper()
	root = t.TempDir()
	ctx := c.context(map[string]string{
		"Dockerfile": "FROM scratch\nCOPY a /a\nCOPY b /b\nENV MODE=prod\n",
		"a":          "first\n", "b": "second\n",
	})
	iid := filepath.Join(t.TempDir(), "iid")
	c.ok("--root", root, "--progress=plain", "-t", "app:1", "--iidfile", iid, ctx)
	b, err := os.ReadFile(iid)
	if err != nil {
		t.Fatal(err)
	}
	other := c.context(map[string]string{"Dockerfile": "FROM scratch\nCOPY c /c\n", "c": "x"})
	r := c.ok("--root", root, "-q", other)
	return root, string(b), strings.TrimSpace(r.stdout)
}

// TestImagesCommand checks the table, -q, --digests, --format and
// --filter of ibuild images.
func TestImagesCommand(t *testing.T) {
	c := newCLI(t)
	root, appID, otherID := storeImages(t, c)
	short := func(id string) string { return strings.TrimPrefix(id, "sha256:")[:12] }

	table := lines(c.ok("images", "--root", root).stdout)
	if len(table) != 3 || !strings.HasPrefix(table[0], "REPOSITORY   TAG ") {
		t.Fatalf("images table:\n%s", strings.Join(table, "\n"))
	}
	var rows [][]string
	for _, l := range table[1:] {
		f := strings.Fields(l)
		rows = append(rows, []string{f[0], f[1], f[2]})
	}
	want := [][]string{{"<none>", "<none>", short(otherID)}, {"app", "1", short(appID)}}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("images rows, newest first (-want +got):\n%s", diff)
	}

	if got := lines(c.ok("images", "--root", root, "-q").stdout); len(got) != 2 {
		t.Errorf("images -q: %q, want two IDs", got)
	}
	dangling := lines(c.ok("images", "--root", root, "-q", "--filter", "dangling=true").stdout)
	if diff := cmp.Diff([]string{short(otherID)}, dangling); diff != "" {
		t.Errorf("images -q --filter dangling=true (-want +got):\n%s", diff)
	}
	byRepo := lines(c.ok("images", "--root", root, "--format", "{{.Repository}}:{{.Tag}}",
		"app").stdout)
	if diff := cmp.Diff([]string{"app:1"}, byRepo); diff != "" {
		t.Errorf("images --format TEMPLATE app (-want +got):\n%s", diff)
	}
	for _, l := range lines(c.ok("images", "--root", root, "--format", "json").stdout) {
		var obj map[string]string
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("images --format json line %q: %v", l, err)
		}
		for _, k := range []string{"Repository", "Tag", "ID", "Digest", "CreatedSince", "Size"} {
			if obj[k] == "" {
				t.Errorf("images --format json: %q lacks %s", l, k)
			}
		}
	}
	digests := c.ok("images", "--root", root, "--digests").stdout
	if !strings.Contains(digests, "DIGEST") || !strings.Contains(digests, "sha256:") {
		t.Errorf("images --digests:\n%s", digests)
	}
	c.fails(2, []string{"--filter", "dangling=true"}, "images", "--root", root, "-f", "size=1")
	if got := c.ok("images", "--root", t.TempDir()).stdout; len(lines(got)) != 1 {
		t.Errorf("images of an empty store:\n%s", got)
	}
}

// TestTagInspectRm tags an image, inspects it and removes its names.
func TestTagInspectRm(t *testing.T) {
	c := newCLI(t)
	root, appID, _ := storeImages(t, c)
	c.ok("tag", "--root", root, "app:1", "localhost:5000/team/app:2")
	c.fails(1, []string{"no such image: nope"}, "tag", "--root", root, "nope", "x:1")

	var res []inspectResult
	out := c.ok("inspect", "--root", root, "app:1").stdout
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("inspect output is not a JSON array: %v\n%s", err, out)
	}
	if len(res) != 1 || res[0].Id != appID {
		t.Fatalf("inspect: %+v, want one image with Id %s", res, appID)
	}
	r := res[0]
	if diff := cmp.Diff([]string{"app:1", "localhost:5000/team/app:2"}, r.RepoTags); diff != "" {
		t.Errorf("RepoTags (-want +got):\n%s", diff)
	}
	if r.Manifest == nil || len(r.Manifest.Layers) != 2 || len(r.RootFS.Layers) != 2 {
		t.Errorf("inspect: manifest %+v, rootfs %+v: want two layers", r.Manifest, r.RootFS)
	}
	if !strings.Contains(strings.Join(r.Config.Env, " "), "MODE=prod") {
		t.Errorf("inspect: Config.Env %q lacks MODE=prod", r.Config.Env)
	}
	id := c.ok("inspect", "--root", root, "--format", "{{.Id}} {{json .Config.Env}}",
		"localhost:5000/team/app:2").stdout
	if !strings.HasPrefix(id, appID+" [") {
		t.Errorf("inspect --format: %q", id)
	}

	rm := c.ok("rm", "--root", root, "app:1").stdout
	if rm != "Untagged: app:1\n" {
		t.Errorf("rm app:1 printed %q", rm)
	}
	rm = c.ok("rmi", "--root", root, "localhost:5000/team/app:2").stdout
	if want := "Untagged: localhost:5000/team/app:2\nDeleted: " + appID + "\n"; rm != want {
		t.Errorf("rmi printed %q, want %q", rm, want)
	}
	c.fails(1, []string{"no such image: app:1"}, "rm", "--root", root, "app:1")
}

// TestSaveLoad saves images in both formats (and to stdout) and loads
// them into another store: names, IDs and digests survive.
func TestSaveLoad(t *testing.T) {
	c := newCLI(t)
	root, appID, otherID := storeImages(t, c)
	out := t.TempDir()
	dockerTar, ociTar := filepath.Join(out, "d.tar"), filepath.Join(out, "o.tar")
	c.ok("save", "--root", root, "-o", dockerTar, "app:1")
	c.ok("save", "--root", root, "--format", "oci", "-o", ociTar, "app:1", otherID)
	piped := c.ok("save", "--root", root, "app:1").stdout
	if b, _ := os.ReadFile(dockerTar); !bytes.Equal(b, []byte(piped)) {
		t.Errorf("save to stdout differs from save -o (%d and %d bytes)", len(piped), len(b))
	}
	c.fails(2, []string{"--format", "docker or oci"}, "save", "--root", root, "--format", "zip",
		"-o", dockerTar, "app:1")

	appDigest := inspectDigest(t, c, root, "app:1")
	for name, args := range map[string][]string{
		"docker": {"-i", dockerTar}, "oci": {"-i", ociTar}, "stdin": nil,
	} {
		t.Run(name, func(t *testing.T) {
			dst := t.TempDir()
			var r result
			if args == nil {
				f, err := os.Open(dockerTar)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				r = c.run(f, "load", "--root", dst)
			} else {
				r = c.run(nil, append([]string{"load", "--root", dst}, args...)...)
			}
			if r.code != 0 || !strings.Contains(r.stdout, "Loaded image: app:1\n") {
				t.Fatalf("load: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			id := strings.TrimSpace(c.ok("inspect", "--root", dst, "-f", "{{.Id}}", "app:1").stdout)
			if id != appID {
				t.Errorf("loaded image ID %s, want %s", id, appID)
			}
			if d := inspectDigest(t, c, dst, "app:1"); d != appDigest {
				t.Errorf("save and load changed the digest: %s, want %s", d, appDigest)
			}
			if name == "oci" {
				if !strings.Contains(r.stdout, "Loaded image ID: "+otherID) {
					t.Errorf("load of the untagged image printed:\n%s", r.stdout)
				}
			}
		})
	}
	c.fails(1, []string{"loading", "neither a docker archive"}, "load", "--root", t.TempDir(),
		"-i", c.context(map[string]string{"x.tar": ""})+"/x.tar")
}

func inspectDigest(t *testing.T, c *cli, root, ref string) string {
	t.Helper()
	return strings.TrimSpace(c.ok("inspect", "--root", root, "-f", "{{.Digest}}", ref).stdout)
}

// TestPrune removes an image and prunes: its blobs and unpacked layers go,
// the other image stays whole, and --all drops the build cache.
func TestPrune(t *testing.T) {
	c := newCLI(t)
	root, _, otherID := storeImages(t, c)
	blobsBefore := countEntries(t, filepath.Join(root, "blobs", "sha256"))
	c.ok("rm", "--root", root, "app:1")
	c.ok("tag", "--root", root, otherID, "other:1") // prune removes untagged images
	leftover := filepath.Join(root, "tmp", "leftover")
	if err := os.WriteFile(leftover, []byte("xyz"), 0o644); err != nil {
		t.Fatal(err)
	}

	r := c.run(strings.NewReader("n\n"), "prune", "--root", root)
	if r.code != 1 || !strings.Contains(r.stderr, "prune cancelled") ||
		!strings.Contains(r.stderr, "Are you sure") {
		t.Errorf("prune answered n: exit %d\n%s", r.code, r.stderr)
	}
	r = c.run(strings.NewReader("y\n"), "prune", "--root", root)
	if r.code != 0 || !strings.Contains(r.stdout, "Total reclaimed space: ") {
		t.Fatalf("prune answered y: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "Deleted blobs:           0") {
		t.Errorf("prune deleted no blob of the removed image:\n%s", r.stdout)
	}
	if n := countEntries(t, filepath.Join(root, "blobs", "sha256")); n >= blobsBefore {
		t.Errorf("%d blobs before, %d after prune", blobsBefore, n)
	}
	if n := countEntries(t, filepath.Join(root, "tmp")); n != 0 {
		t.Errorf("prune left %d entries in tmp", n)
	}
	c.ok("save", "--root", root, "-o", filepath.Join(t.TempDir(), "x.tar"), otherID)

	if _, err := os.Stat(filepath.Join(root, "cache")); err != nil {
		t.Errorf("the builds left no cache for prune --all to remove: %v", err)
	}
	c.ok("prune", "--root", root, "--all", "--force")
	if _, err := os.Stat(filepath.Join(root, "cache")); !os.IsNotExist(err) {
		t.Errorf("prune --all left ROOT/cache: %v", err)
	}
	c.ok("save", "--root", root, "-o", filepath.Join(t.TempDir(), "x.tar"), otherID)
	c.ok("prune", "--root", filepath.Join(t.TempDir(), "missing"), "-f")
}

func countEntries(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return len(es)
}

// TestPruneWaitsForNoBuild holds the store lock as a build does and checks
// that prune refuses to run.
func TestPruneWaitsForNoBuild(t *testing.T) {
	c := newCLI(t)
	root := t.TempDir()
	unlock, err := lockStore(root, false)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	c.fails(1, []string{"in use by another ibuild command"}, "prune", "--root", root, "-f")
}
