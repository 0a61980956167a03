package compat

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"golang.org/x/sys/unix"

	"github.com/ibuild/ibuild/internal/testenv"
)

// buildahConf is the private registries.conf of the suite's buildah: Docker
// Hub is the loopback registry, over plain HTTP.
const buildahConf = `unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"

[[registry]]
prefix = "docker.io"
location = "%[1]s"
insecure = true

[[registry]]
location = "%[1]s"
insecure = true
`

// buildah runs `buildah bud` with storage, registries, policy and engine
// configuration private to the suite, so that /var/lib/containers and the
// machine's registries.conf do not count. (The short-name aliases of
// /etc/containers/registries.conf.d still apply; all of them name docker.io,
// which is the loopback registry here.)
type buildah struct {
	dir    string // config files
	env    []string
	driver string // storage driver
}

// newBuildah writes buildah's private configuration for registry reg.
func newBuildah(t *testing.T, reg string) *buildah {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Require(t, "root, to run buildah bud as the reference builder")
	}
	if _, err := exec.LookPath("buildah"); err != nil {
		testenv.Require(t, "buildah (Debian package buildah) as the reference builder")
	}
	b := &buildah{dir: t.TempDir(), driver: storageDriver(t)}
	files := map[string]string{
		"registries.conf": fmt.Sprintf(buildahConf, reg),
		"policy.json":     `{"default":[{"type":"insecureAcceptAnything"}]}`,
		"storage.conf":    "[storage]\ndriver = \"" + b.driver + "\"\n",
		"containers.conf": "[engine]\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(b.dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.env = append(os.Environ(),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(b.dir, "registries.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(b.dir, "storage.conf"),
		"CONTAINERS_CONF="+filepath.Join(b.dir, "containers.conf"),
		"BUILDAH_ISOLATION=chroot")
	return b
}

// storageDriver picks buildah's storage driver: overlay, unless TMPDIR is
// itself on overlayfs (where overlay cannot stack), or
// IBUILD_COMPAT_BUILDAH_DRIVER says otherwise.
func storageDriver(t *testing.T) string {
	if d := os.Getenv("IBUILD_COMPAT_BUILDAH_DRIVER"); d != "" {
		return d
	}
	var st unix.Statfs_t
	if err := unix.Statfs(os.TempDir(), &st); err != nil {
		t.Fatalf("looking at %s: %v", os.TempDir(), err)
	}
	if st.Type == unix.OVERLAYFS_SUPER_MAGIC {
		return "vfs"
	}
	return "overlay"
}

// build builds case c in dir with buildah and returns the image.
func (b *buildah) build(t *testing.T, c Case, args map[string]string, dir string) v1.Image {
	t.Helper()
	global := []string{"--root", filepath.Join(dir, "storage"),
		"--runroot", filepath.Join(dir, "run"), "--storage-driver", b.driver}
	t.Cleanup(func() { unmountUnder(t, dir) })
	iid := filepath.Join(dir, "iid")
	bud := append(slices.Clone(global), "bud", "--isolation", "chroot", "--layers",
		"--format", "docker", "--signature-policy", filepath.Join(b.dir, "policy.json"),
		"--iidfile", iid, "-f", c.Dockerfile)
	bud = append(bud, commonArgs(c, args)...)
	b.run(t, append(bud, c.Context)...)

	id, err := os.ReadFile(iid)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "oci")
	// v2s2 keeps Healthcheck, OnBuild and Shell, which an OCI manifest drops.
	b.run(t, append(global, "push", "--quiet", "--format", "v2s2", "--signature-policy",
		filepath.Join(b.dir, "policy.json"), strings.TrimSpace(string(id)), "oci:"+out+":latest")...)
	return layoutImage(t, out)
}

// run runs buildah with args; the test stops when it fails.
func (b *buildah) run(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "buildah", args...)
	cmd.Env = b.env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ibuild builds cases with the ibuild binary.
type ibuild struct {
	bin  string
	reg  string
	user string // when set, run as this unprivileged user
}

// build builds case c in dir, first with each warm-up argument set into
// the same store, and returns the image.
func (ib ibuild) build(t *testing.T, c Case, args map[string]string, dir string) v1.Image {
	t.Helper()
	root := filepath.Join(dir, "root")
	for i, warm := range c.Expect.Warm {
		ib.run(t, c, warm, root, filepath.Join(dir, fmt.Sprintf("warm%d", i)))
	}
	out := filepath.Join(dir, "oci")
	ib.run(t, c, args, root, out)
	return layoutImage(t, out)
}

// run runs one ibuild build into the OCI layout out.
func (ib ibuild) run(t *testing.T, c Case, args map[string]string, root, out string) {
	t.Helper()
	if ib.user != "" {
		c = userCopy(t, c, ib.user)
	}
	argv := []string{"build", "--root", root, "--progress", "plain",
		"--registry-mirror", ib.reg, "-f", c.Dockerfile, "-o", "type=oci,dest=" + out}
	argv = append(argv, commonArgs(c, args)...)
	cmd := exec.CommandContext(t.Context(), ib.bin, append(argv, c.Context)...)
	cmd.Env = withoutVar(os.Environ(), "SOURCE_DATE_EPOCH")
	if ib.user != "" {
		testenv.RunAs(t, ib.user, cmd)
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ibuild %s: %v\n%s", strings.Join(argv, " "), err, lastLines(msg, 40))
	}
}

// commonArgs are the build flags both builders get for case c.
func commonArgs(c Case, args map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(args)) {
		out = append(out, "--build-arg", k+"="+args[k])
	}
	for _, k := range slices.Sorted(maps.Keys(c.Expect.Labels)) {
		out = append(out, "--label", k+"="+c.Expect.Labels[k])
	}
	for _, id := range slices.Sorted(maps.Keys(c.Expect.Secrets)) {
		src := filepath.Join(c.Dir, c.Expect.Secrets[id])
		out = append(out, "--secret", "id="+id+",src="+src)
	}
	if c.Expect.Target != "" {
		out = append(out, "--target", c.Expect.Target)
	}
	return out
}

// layoutImage reads the only image of the OCI layout dir.
func layoutImage(t *testing.T, dir string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading OCI layout %s: %v", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatalf("reading OCI layout %s: %v", dir, err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("OCI layout %s holds %d manifests, want 1", dir, len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatalf("reading the image of %s: %v", dir, err)
	}
	return img
}

// unmountUnder detaches whatever is still mounted below dir, so that the
// test leaves no mounts behind even when buildah was interrupted.
func unmountUnder(t *testing.T, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Errorf("reading mountinfo: %v", err)
		return
	}
	var points []string
	s := bufio.NewScanner(bytes.NewReader(b))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			points = append(points, f[4])
		}
	}
	slices.Sort(points)
	for _, p := range slices.Backward(points) {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s left by buildah: %v", p, err)
		}
	}
}

// withoutVar returns env without the variable name.
func withoutVar(env []string, name string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, name+"=")
	})
}

// lastLines returns the last n lines of out.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{"..."}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// userCopy copies case c where user can read it (the checkout may be in a
// directory only root can enter, as CI's is) and returns the copy.
func userCopy(t *testing.T, c Case, user string) Case {
	t.Helper()
	dir := filepath.Join(testenv.UserDir(t, user), c.Name)
	if out, err := exec.Command("cp", "-a", c.Dir, dir).CombinedOutput(); err != nil {
		t.Fatalf("copying case %s for %s: %v\n%s", c.Name, user, err, out)
	}
	if out, err := exec.Command("chown", "-R", user, dir).CombinedOutput(); err != nil {
		t.Fatalf("chown of case %s: %v\n%s", c.Name, err, out)
	}
	c.Dir = dir
	c.Dockerfile = filepath.Join(dir, "Dockerfile")
	c.Context = filepath.Join(dir, "context")
	return c
}
