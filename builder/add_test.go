package builder

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// tarEntry is an entry of a test archive.
type tarEntry struct {
	name, data, link string
	typ              byte
	mode             int64
	uid, gid         int
}

func makeTar(t *testing.T, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Size: int64(len(e.data)), Linkname: e.link, ModTime: time.Unix(1700000000, 0),
			Format: tar.FormatUSTAR}
		if typ != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			if _, err := io.WriteString(tw, e.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compressAs(t *testing.T, kind string, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch kind {
	case "gzip":
		w = gzip.NewWriter(&buf)
	case "xz":
		w, err = xz.NewWriter(&buf)
	case "zstd":
		w, err = zstd.NewWriter(&buf)
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeBytes(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAddLocalArchives(t *testing.T) {
	ctxDir := t.TempDir()
	plain := makeTar(t, []tarEntry{
		{name: "./", typ: tar.TypeDir, mode: 0o700},
		{name: "plain-dir/", typ: tar.TypeDir, mode: 0o750, uid: 1234, gid: 5678},
		{name: "plain-dir/file.txt", data: "from plain tar\n", mode: 0o640, uid: 1234, gid: 5678},
		{name: "plain-dir/link", typ: tar.TypeSymlink, link: "file.txt", mode: 0o777},
		{name: "plain-dir/hard", typ: tar.TypeLink, link: "plain-dir/file.txt"},
		{name: "../../escape.txt", data: "contained\n", mode: 0o644},
	})
	writeBytes(t, ctxDir, "plain.tar", plain)
	one := func(name, data string) []byte {
		return makeTar(t, []tarEntry{{name: name, data: data, mode: 0o644, uid: 7, gid: 8}})
	}
	writeBytes(t, ctxDir, "gz.tgz", compressAs(t, "gzip", one("gz.txt", "gzip member\n")))
	writeBytes(t, ctxDir, "x.txz", compressAs(t, "xz", one("xz.txt", "xz member\n")))
	writeBytes(t, ctxDir, "z.tar.zst", compressAs(t, "zstd", one("zst.txt", "zstd member\n")))
	writeBytes(t, ctxDir, "fake.tar.gz", []byte("this is not an archive\n"))
	writeBytes(t, ctxDir, "keep.tar", one("kept.txt", "kept\n"))
	df := "FROM scratch\nCOPY keep.tar /target/.keep\n" +
		"ADD plain.tar /target/\nADD gz.tgz x.txz z.tar.zst /multi/\nADD fake.tar.gz /fake/\n" +
		"COPY keep.tar /copied/\nADD --chown=42:43 keep.tar /owned\n" +
		"ADD --unpack=false keep.tar /packed/\nADD k*.tar /glob/\n"
	img, err := buildImage(t, ctxDir, df, nil)
	if err != nil {
		t.Fatal(err)
	}
	own := func(n node, uid, gid int) node { n.UID, n.GID = uid, gid; return n }
	checkTree(t, flatten(t, img), map[string]node{
		"target":                    dir(0o755),
		"target/plain-dir":          own(dir(0o750), 1234, 5678),
		"target/plain-dir/file.txt": own(reg("from plain tar\n", 0o640), 1234, 5678),
		"target/plain-dir/link":     symlink("file.txt"),
		"target/plain-dir/hard": {Type: tar.TypeLink, Link: "target/plain-dir/file.txt",
			UID: 0, GID: 0},
		"target/escape.txt": reg("contained\n", 0o644),
		"multi/gz.txt":      own(reg("gzip member\n", 0o644), 7, 8),
		"multi/xz.txt":      own(reg("xz member\n", 0o644), 7, 8),
		"multi/zst.txt":     own(reg("zstd member\n", 0o644), 7, 8),
		"fake/fake.tar.gz":  reg("this is not an archive\n", 0o644),
		"copied/keep.tar":   reg(string(one("kept.txt", "kept\n")), 0o644),
		"owned/kept.txt":    own(reg("kept\n", 0o644), 42, 43),
		"owned":             own(dir(0o755), 42, 43),
		"packed/keep.tar":   reg(string(one("kept.txt", "kept\n")), 0o644),
		"glob/kept.txt":     own(reg("kept\n", 0o644), 7, 8),
	}, []string{"escape.txt", "copied/kept.txt"})
}

func TestAddRemote(t *testing.T) {
	lastMod := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	archive := makeTar(t, []tarEntry{{name: "in.txt", data: "inside\n", mode: 0o644}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/files/tool.sh":
			w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
			io.WriteString(w, "#!/bin/sh\n")
		case "/a.tar":
			w.Write(archive)
		case "/":
			io.WriteString(w, "index\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	sum := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte("#!/bin/sh\n")))
	df := fmt.Sprintf("FROM scratch\nADD %[1]s/files/tool.sh /bin/\n"+
		"ADD --checksum=%[2]s --chown=3:4 --chmod=755 %[1]s/files/tool.sh /named\n"+
		"ADD %[1]s/a.tar /raw/\nADD --unpack=true %[1]s/a.tar /unpacked/\n"+
		"ADD %[1]s/ /idx/\n", srv.URL, sum)
	img, err := buildImage(t, t.TempDir(), df, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkTree(t, flatten(t, img), map[string]node{
		"bin/tool.sh":     reg("#!/bin/sh\n", 0o600),
		"named":           {Type: tar.TypeReg, Content: "#!/bin/sh\n", Mode: 0o755, UID: 3, GID: 4},
		"raw/a.tar":       reg(string(archive), 0o600),
		"unpacked/in.txt": reg("inside\n", 0o644),
		"idx/__unnamed__": reg("index\n", 0o600),
	}, nil)
	if got := mtimes(t, img)["bin/tool.sh"]; !got.Equal(lastMod) {
		t.Errorf("mtime of /bin/tool.sh is %v, want the Last-Modified time %v", got, lastMod)
	}

	bad := fmt.Sprintf("FROM scratch\nADD --checksum=sha256:%064x %s/files/tool.sh /x\n",
		0, srv.URL)
	if _, err := buildImage(t, t.TempDir(), bad, nil); err == nil ||
		!strings.Contains(err.Error(), "checksum mismatch") {
		t.Errorf("wrong checksum: error %v, want a checksum mismatch", err)
	}
	missing := fmt.Sprintf("FROM scratch\nADD %s/nothing /x\n", srv.URL)
	if _, err := buildImage(t, t.TempDir(), missing, nil); err == nil ||
		!strings.Contains(err.Error(), "404") {
		t.Errorf("missing file: error %v, want a 404", err)
	}
}

// mtimes returns the modification time of each path of the image.
func mtimes(t *testing.T, img v1.Image) map[string]time.Time {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]time.Time{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[strings.Trim(hdr.Name, "/")] = hdr.ModTime.UTC()
	}
}
