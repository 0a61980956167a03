package main

import (
	"archive/tar"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ibuild/ibuild/internal/testenv"
)

// fileEntry is one path of a flattened image.
type fileEntry struct {
	Type     byte
	Mode     int64
	UID, GID int
	Link     string
	Data     string
}

// flatten applies every layer of img and returns its file tree by path
// (without the leading slash).
func flatten(t *testing.T, img v1.Image) map[string]fileEntry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]fileEntry{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading the flattened image: %v", err)
		}
		e := fileEntry{Type: h.Typeflag, Mode: h.Mode & 07777, UID: h.Uid, GID: h.Gid,
			Link: h.Linkname}
		if h.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			e.Data = string(b)
		}
		out[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = e
	}
}

// ociImage reads the only image of an OCI layout directory.
func ociImage(t *testing.T, dir string) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("reading OCI layout %s: %v", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Manifests) != 1 {
		t.Fatalf("OCI layout %s holds %d manifests, want 1", dir, len(m.Manifests))
	}
	img, err := idx.Image(m.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// ibuild runs the ibuild binary in dir with args and returns its output;
// the test fails when it exits non-zero.
func ibuild(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := ibuildErr(t, dir, args...)
	if err != nil {
		t.Fatalf("ibuild %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func ibuildErr(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t), args...)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

// writeFiles creates files (path -> content) below dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// moduleFile returns the path of a file relative to the module root.
func moduleFile(t *testing.T, rel string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", rel))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
