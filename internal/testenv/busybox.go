package testenv

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPath is the static busybox (Debian package busybox-static) that
// the test base image is made of.
const BusyboxPath = "/bin/busybox"

// busyboxEpoch is the time of every file and of the image, so that the image
// digest depends on nothing but the busybox binary.
var busyboxEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// busyboxPATH is the PATH the image's config sets, as Docker Hub's busybox.
const busyboxPATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const etcPasswd = `root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`

const etcGroup = `root:x:0:
app:x:1000:
nogroup:x:65534:
`

// busybox is the image built once per test process.
var busybox struct {
	once sync.Once
	img  v1.Image
	err  error
}

// PushBusybox pushes a small base image to the registry at reg (a
// "host:port" speaking plain HTTP, as [Registry] returns) as repo, for
// example "library/busybox:latest", and returns the reference "reg/repo".
//
// The image (linux, the host's architecture, OCI media types) has one
// layer: the static /bin/busybox with a symlink /bin/APPLET for each applet,
// /etc/passwd with root, app (1000:1000, home /home/app) and nobody,
// /etc/group, /root, /tmp (1777) and /home/app owned by app. Its config sets
// PATH and Cmd ["sh"]. Its digest is the same on every push.
func PushBusybox(t testing.TB, reg, repo string) string {
	t.Helper()
	img := BusyboxImage(t)
	s := reg + "/" + repo
	ref, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatalf("pushing busybox: %v", err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing busybox to %s: %v", s, err)
	}
	return s
}

// BusyboxImage returns the image [PushBusybox] pushes, for tests that want it
// without a registry.
func BusyboxImage(t testing.TB) v1.Image {
	t.Helper()
	if _, err := os.Stat(BusyboxPath); err != nil {
		Require(t, "static busybox at "+BusyboxPath+" (Debian package busybox-static)")
	}
	busybox.once.Do(func() { busybox.img, busybox.err = buildBusybox(BusyboxPath) })
	if busybox.err != nil {
		t.Fatalf("building the busybox image: %v", busybox.err)
	}
	return busybox.img
}

// buildBusybox builds the busybox image from the binary at path.
func buildBusybox(path string) (v1.Image, error) {
	layer, err := busyboxLayer(path)
	if err != nil {
		return nil, err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layer)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("making the busybox layer: %w", err)
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Created:      v1.Time{Time: busyboxEpoch},
		OS:           "linux",
		Architecture: runtime.GOARCH,
		Config:       v1.Config{Env: []string{busyboxPATH}, Cmd: []string{"sh"}},
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("setting the busybox config: %w", err)
	}
	return mutate.Append(img, mutate.Addendum{
		Layer: l,
		History: v1.History{
			Created:   v1.Time{Time: busyboxEpoch},
			CreatedBy: "ibuild testenv: " + path + " with applet links",
		},
	})
}

// busyboxLayer returns the uncompressed tar of the busybox layer.
func busyboxLayer(path string) ([]byte, error) {
	if err := checkStatic(path); err != nil {
		return nil, err
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading busybox: %w", err)
	}
	applets, err := busyboxApplets(path)
	if err != nil {
		return nil, err
	}

	hdrs := []*tar.Header{
		dirHeader("bin/", 0o755, 0),
		dirHeader("dev/", 0o755, 0),
		dirHeader("etc/", 0o755, 0),
		fileHeader("etc/group", 0o644, len(etcGroup)),
		fileHeader("etc/passwd", 0o644, len(etcPasswd)),
		dirHeader("home/", 0o755, 0),
		dirHeader("home/app/", 0o755, 1000),
		// The mount points real base images carry; without them a RUN
		// layer gets them, as BuildKit's would.
		dirHeader("proc/", 0o755, 0),
		dirHeader("root/", 0o700, 0),
		dirHeader("sys/", 0o755, 0),
		dirHeader("tmp/", 0o1777, 0),
		fileHeader("bin/busybox", 0o755, len(bin)),
	}
	for _, a := range applets {
		hdrs = append(hdrs, &tar.Header{
			Typeflag: tar.TypeSymlink, Name: "bin/" + a, Linkname: "busybox",
			Mode: 0o777, ModTime: busyboxEpoch,
		})
	}
	sort.Slice(hdrs, func(i, j int) bool { return hdrs[i].Name < hdrs[j].Name })

	content := map[string][]byte{
		"bin/busybox": bin, "etc/group": []byte(etcGroup), "etc/passwd": []byte(etcPasswd),
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("writing busybox layer %s: %w", h.Name, err)
		}
		if _, err := tw.Write(content[h.Name]); err != nil {
			return nil, fmt.Errorf("writing busybox layer %s: %w", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("writing busybox layer: %w", err)
	}
	return buf.Bytes(), nil
}

// busyboxApplets lists the applets the busybox at path provides, without
// "busybox" itself. "sh" is always among them.
func busyboxApplets(path string) ([]string, error) {
	out, err := exec.Command(path, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing busybox applets: %w", err)
	}
	seen := map[string]bool{"sh": true}
	applets := []string{"sh"}
	for _, a := range strings.Fields(string(out)) {
		if a == "busybox" || seen[a] || strings.Contains(a, "/") {
			continue
		}
		seen[a] = true
		applets = append(applets, a)
	}
	return applets, nil
}

// checkStatic fails if the ELF file at path asks for a dynamic loader: a
// dynamically linked busybox would not run inside the image.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("reading busybox: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; install the Debian package "+
				"busybox-static", path)
		}
	}
	return nil
}

func dirHeader(name string, mode int64, owner int) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeDir, Name: name, Mode: mode,
		Uid: owner, Gid: owner, ModTime: busyboxEpoch,
	}
}

func fileHeader(name string, mode int64, size int) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Mode: mode,
		Size: int64(size), ModTime: busyboxEpoch,
	}
}
