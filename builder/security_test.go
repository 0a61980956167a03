package builder

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ibuild/ibuild/internal/testenv"
)

// hostileEntry is an entry of a crafted layer; size, when set, is what the
// header claims and the stream ends after it.
type hostileEntry struct {
	name, body, link string
	typ              byte
	size             int64
}

// hostileTar writes entries as a tar stream, lying about sizes as asked.
func hostileTar(t *testing.T, ents []hostileEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Linkname: e.link, Mode: 0o644,
			Format: tar.FormatPAX}
		if typ == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if e.size != 0 {
			hdr.Size = e.size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if e.size != 0 {
			return buf.Bytes()
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pushHostile pushes busybox plus one layer blob to reg as repo and returns
// the reference and the diff ID the config gives the layer.
func pushHostile(t *testing.T, reg, repo string, blob []byte, diffID v1.Hash) (string, v1.Hash) {
	t.Helper()
	img, err := mutate.AppendLayers(testenv.BusyboxImage(t), static.NewLayer(blob, types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs[len(cf.RootFS.DiffIDs)-1] = diffID
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	ref := reg + "/" + repo
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	return ref, diffID
}

func sha256Hash(b []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(b))}
}

// TestHostileBaseLayers pulls crafted base images from a loopback registry
// and runs a step on them, which unpacks every layer. Each attack fails
// with an error naming the layer, or stays inside the image; nothing
// beside the store changes.
func TestHostileBaseLayers(t *testing.T) {
	reg := testenv.Registry(t)
	// The store is BASE/root, layers unpack in BASE/root/tmp/unpack-*, so
	// "../../../sentinel" from there is BASE/sentinel.
	base := t.TempDir()
	sentinel := filepath.Join(base, "sentinel")
	writeContext(t, sentinel, []ctxFile{{path: "victim", content: "original"}, {path: "dir", dir: true}})
	before := snapshotDir(t, base)
	up := "../../../sentinel"
	tests := []struct {
		name    string
		ents    []hostileEntry
		spoil   func(raw []byte) (blob []byte, diffID v1.Hash)
		wantErr string
		check   string // a RUN that must succeed on the image instead
	}{
		{name: "dot-dot", ents: []hostileEntry{{name: up + "/victim", body: "pwned"}},
			wantErr: "climbs out of the root"},
		{name: "symlink then a file through it", ents: []hostileEntry{
			{name: "evil", typ: tar.TypeSymlink, link: up},
			{name: "evil/victim", body: "pwned"}}, wantErr: "symlink that leads to no directory"},
		{name: "absolute symlink then a file through it", ents: []hostileEntry{
			{name: "evil", typ: tar.TypeSymlink, link: sentinel},
			{name: "evil/new", body: "pwned"}}, wantErr: "symlink that leads to no directory"},
		{name: "hard link out", ents: []hostileEntry{
			{name: "h", typ: tar.TypeLink, link: up + "/victim"}}, wantErr: "climbs out of the root"},
		{name: "hard link to a symlink pointing out", ents: []hostileEntry{
			{name: "s", typ: tar.TypeSymlink, link: sentinel + "/victim"},
			{name: "h", typ: tar.TypeLink, link: "s"},
			{name: "h", body: "replaced"}}, check: "test \"$(cat /h)\" = replaced"},
		{name: "whiteout of the parent", ents: []hostileEntry{{name: "etc/.wh.."}},
			wantErr: "names no file"},
		{name: "absolute names stay inside", ents: []hostileEntry{
			{name: sentinel + "/victim", body: "inside"}},
			check: "test \"$(cat " + sentinel + "/victim)\" = inside"},
		{name: "absurd size", ents: []hostileEntry{{name: "big", size: 1 << 50}},
			wantErr: "bytes free"},
		{name: "truncated gzip", ents: []hostileEntry{{name: "f", body: strings.Repeat("x", 1<<16)}},
			spoil: func(raw []byte) ([]byte, v1.Hash) {
				gz := compressAs(t, "gzip", raw)
				return gz[:len(gz)/2], sha256Hash(raw)
			}, wantErr: "unexpected EOF"},
		{name: "diff ID that does not match", ents: []hostileEntry{{name: "f", body: "x"}},
			spoil: func(raw []byte) ([]byte, v1.Hash) {
				return compressAs(t, "gzip", raw), sha256Hash([]byte("something else"))
			}, wantErr: "does not match its diff ID"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := hostileTar(t, tt.ents)
			blob, diffID := compressAs(t, "gzip", raw), sha256Hash(raw)
			if tt.spoil != nil {
				blob, diffID = tt.spoil(raw)
			}
			ref, diffID := pushHostile(t, reg, fmt.Sprintf("hostile/case%d:latest", i), blob, diffID)
			run := "true"
			if tt.check != "" {
				run = tt.check
			}
			root := filepath.Join(base, "root")
			defer os.RemoveAll(root)
			_, err := buildImage(t, t.TempDir(), "FROM "+ref+"\nRUN "+run+"\n", func(o *Options) {
				o.Root = root
			})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("build: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("build error %v, want %q", err, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), diffID.String()):
				t.Errorf("build error %v does not name the layer %s", err, diffID)
			}
			if diff := cmp.Diff(before, snapshotDir(t, base, "root")); diff != "" {
				t.Errorf("outside the store (-before +after):\n%s", diff)
			}
		})
	}
}

// snapshotDir describes every file below dir (type, mode, size, content,
// link) except the top-level entries named in skip.
func snapshotDir(t *testing.T, dir string, skip ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, s := range skip {
			if rel == s {
				return filepath.SkipDir
			}
		}
		desc := fmt.Sprintf("%v %d", fi.Mode(), fi.Size())
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			desc += " " + string(b)
		case fi.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			desc += " -> " + l
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRunCannotDeleteHostFiles has a step replace the parents of its mount
// points (the sandbox's /etc/hosts and /etc/resolv.conf, a tmpfs, a file
// bind) by symlinks to a host directory. Removing the mount points after
// the step must not follow them: the host files stay.
func TestRunCannotDeleteHostFiles(t *testing.T) {
	host := t.TempDir()
	writeContext(t, host, []ctxFile{
		{path: "hosts", content: "host file"}, {path: "resolv.conf", content: "host file"},
		{path: "b", dir: true}, {path: "f", content: "host file"},
	})
	before := snapshotDir(t, host)
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{{path: "f", content: "context"}})
	rel := strings.Repeat("../", 30) + strings.TrimPrefix(host, "/")
	tests := []struct{ name, run string }{
		{"standard mount points, absolute link",
			"mv /etc /etc2 && ln -s " + host + " /etc"},
		{"standard mount points, relative link",
			"mv /etc /etc2 && ln -s " + rel + " /etc"},
		{"tmpfs", "--mount=type=tmpfs,target=/a/b mv /a /a2 && ln -s " + host + " /a"},
		{"file bind", "--mount=type=bind,source=f,target=/x/f mv /x /x2 && ln -s " + rel + " /x"},
		{"deeper", "--mount=type=tmpfs,target=/p/q/b sh -c 'mv /p /p2 && mkdir -p /p && " +
			"ln -s " + host + "/.. /p/q'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Without /etc below, the sandbox makes it in the upper dir,
			// where overlay lets the step rename it.
			df := "FROM busybox AS b\nFROM scratch\nCOPY --from=b /bin /bin\nRUN " + tt.run + "\n"
			_, _, err := buildIn(t, t.TempDir(), ctxDir, df, nil)
			if err != nil {
				t.Logf("build: %v", err)
			}
			if diff := cmp.Diff(before, snapshotDir(t, host)); diff != "" {
				t.Errorf("host directory changed (-before +after):\n%s", diff)
			}
		})
	}
}
