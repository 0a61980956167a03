package testenv

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestPushBusybox(t *testing.T) {
	reg := Registry(t)
	first := pull(t, PushBusybox(t, reg, "library/busybox:latest"))
	second := pull(t, PushBusybox(t, reg, "other/busybox:v1"))
	if err := validate.Image(first); err != nil {
		t.Fatalf("validating the pushed image: %v", err)
	}

	// The digest must not depend on the push, the repository or the process.
	rebuilt, err := buildBusybox(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	want := digest(t, first)
	for _, img := range []v1.Image{second, rebuilt} {
		if got := digest(t, img); got != want {
			t.Errorf("digest %s, want %s every time", got, want)
		}
	}

	if mt, _ := first.MediaType(); mt != types.OCIManifestSchema1 {
		t.Errorf("manifest media type %s, want %s", mt, types.OCIManifestSchema1)
	}
	cf, err := first.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	wantConfig := v1.Config{Env: []string{busyboxPATH}, Cmd: []string{"sh"}}
	if diff := cmp.Diff(wantConfig, cf.Config); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

func TestBusyboxFiles(t *testing.T) {
	files := layerFiles(t, BusyboxImage(t))
	bin, err := os.Stat(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		typ            byte
		mode           int64
		uid            int
		link, contents string
	}{
		{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755},
		{name: "bin/sh", typ: tar.TypeSymlink, mode: 0o777, link: "busybox"},
		{name: "bin/ls", typ: tar.TypeSymlink, mode: 0o777, link: "busybox"},
		{name: "bin/[", typ: tar.TypeSymlink, mode: 0o777, link: "busybox"},
		{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, contents: etcPasswd},
		{name: "etc/group", typ: tar.TypeReg, mode: 0o644, contents: etcGroup},
		{name: "root/", typ: tar.TypeDir, mode: 0o700},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		{name: "home/app/", typ: tar.TypeDir, mode: 0o755, uid: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := files[tt.name]
			if !ok {
				t.Fatalf("%s missing from the layer", tt.name)
			}
			h := f.hdr
			if h.Typeflag != tt.typ || h.Mode != tt.mode || h.Uid != tt.uid ||
				h.Gid != tt.uid || h.Linkname != tt.link {
				t.Errorf("type %c mode %o owner %d:%d link %q, want %c %o %d:%d %q",
					h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname,
					tt.typ, tt.mode, tt.uid, tt.uid, tt.link)
			}
			if tt.contents != "" && f.contents != tt.contents {
				t.Errorf("contents %q, want %q", f.contents, tt.contents)
			}
		})
	}
	if got := files["bin/busybox"].hdr.Size; got != bin.Size() {
		t.Errorf("bin/busybox has %d bytes, want %d", got, bin.Size())
	}
	for name, f := range files {
		if !f.hdr.ModTime.Equal(busyboxEpoch) {
			t.Errorf("%s: mtime %v, want %v", name, f.hdr.ModTime, busyboxEpoch)
		}
	}
}

type layerFile struct {
	hdr      *tar.Header
	contents string
}

// layerFiles reads the only layer of img.
func layerFiles(t *testing.T, img v1.Image) map[string]layerFile {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("image layers: %d, %v; want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	files := map[string]layerFile{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		var contents []byte
		if h.Name != "bin/busybox" {
			if contents, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
		files[h.Name] = layerFile{h, string(contents)}
	}
}

func pull(t *testing.T, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	return img
}

func digest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}
