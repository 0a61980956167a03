package builder

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// node is a file of an image's flattened file system, as a test expects
// it. Zero fields of an expectation are compared too, except Mode == 0
// and Content for directories and links.
type node struct {
	Type    byte // tar.TypeReg, TypeDir, TypeSymlink, TypeLink
	Mode    int64
	UID     int
	GID     int
	Content string
	Link    string
}

// ctxFile is a file to create in a test build context.
type ctxFile struct {
	path    string
	content string
	mode    uint32 // unix mode bits; 0 means 0644 (0755 for directories)
	link    string // symlink target
	hard    string // hard link to this context path
	dir     bool
}

// writeContext creates the files in dir with exact modes (not umasked).
func writeContext(t *testing.T, dir string, files []ctxFile) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := f.mode
		var err error
		switch {
		case f.link != "":
			err = os.Symlink(f.link, p)
		case f.hard != "":
			err = os.Link(filepath.Join(dir, f.hard), p)
		case f.dir:
			if mode == 0 {
				mode = 0o755
			}
			err = os.MkdirAll(p, 0o755)
		default:
			if mode == 0 {
				mode = 0o644
			}
			err = os.WriteFile(p, []byte(f.content), 0o600)
		}
		if err == nil && f.link == "" && f.hard == "" {
			err = syscall.Chmod(p, mode)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// buildImage builds dockerfile with the context at ctxDir into a fresh
// store and returns the image.
func buildImage(t *testing.T, ctxDir, dockerfile string, tweak func(*Options)) (v1.Image, error) {
	t.Helper()
	opts := Options{
		ContextDir:     ctxDir,
		Dockerfile:     []byte(dockerfile),
		DockerfilePath: filepath.Join(ctxDir, "Dockerfile"),
		Root:           t.TempDir(),
	}
	if tweak != nil {
		tweak(&opts)
	}
	// The context must outlive the build: base layers download lazily.
	res, err := Build(context.Background(), opts)
	if err != nil {
		return nil, err
	}
	return res.Image, nil
}

// flatten returns the image's file system, by path without leading "/".
func flatten(t *testing.T, img v1.Image) map[string]node {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]node{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading the image's file system: %v", err)
		}
		n := node{Type: hdr.Typeflag, Mode: hdr.Mode & 0o7777, UID: hdr.Uid, GID: hdr.Gid,
			Link: hdr.Linkname}
		if n.Type == tar.TypeRegA {
			n.Type = tar.TypeReg
		}
		if n.Type == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			n.Content = string(b)
		}
		name := strings.Trim(hdr.Name, "/")
		if shadowed(out, name) {
			continue // below something an upper layer made a non-directory
		}
		out[name] = n
	}
}

// checkTree compares the expected nodes (and absent paths) with got.
func checkTree(t *testing.T, got map[string]node, want map[string]node, absent []string) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("/%s: missing (have %v)", p, keys(got))
			continue
		}
		if w.Mode == 0 {
			g.Mode = 0
		}
		if diff := cmp.Diff(w, g); diff != "" {
			t.Errorf("/%s (-want +got):\n%s", p, diff)
		}
	}
	for _, p := range absent {
		if _, ok := got[p]; ok {
			t.Errorf("/%s: exists, should not", p)
		}
	}
}

func shadowed(tree map[string]node, name string) bool {
	for p := path.Dir(name); p != "." && p != "/"; p = path.Dir(p) {
		if n, ok := tree[p]; ok && n.Type != tar.TypeDir {
			return true
		}
	}
	return false
}

func keys(m map[string]node) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func reg(content string, mode int64) node {
	return node{Type: tar.TypeReg, Content: content, Mode: mode}
}

func dir(mode int64) node { return node{Type: tar.TypeDir, Mode: mode} }

func symlink(target string) node { return node{Type: tar.TypeSymlink, Link: target, Mode: 0o777} }
