//go:build linux

package layers

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

func compressWith(t *testing.T, kind string, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var err error
	switch kind {
	case "plain":
		return raw
	case "gzip":
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		err = zw.Close()
	case "xz":
		zw, _ := xz.NewWriter(&buf)
		zw.Write(raw)
		err = zw.Close()
	case "zstd":
		zw, _ := zstd.NewWriter(&buf)
		zw.Write(raw)
		err = zw.Close()
	case "bzip2":
		// Go has no bzip2 writer: a fixture made with bzip2(1).
		b, err := os.ReadFile(filepath.Join("testdata", "hello.tar.bz2"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// helloTar is the content of testdata/hello.tar.bz2.
func helloTar(t *testing.T) []byte {
	return makeTar(t,
		tent{name: "hello/", typ: tar.TypeDir},
		tent{name: "hello/world", body: "hi\n"},
	)
}

func copyArchive(t *testing.T, archive []byte, dest string, opts ArchiveOptions) ([]hdr, error) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := CopyArchive(tw, bytes.NewReader(archive), dest, opts); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return diffHeaders(t, buf.Bytes()), nil
}

func TestCopyArchiveCompressions(t *testing.T) {
	m := t0.Unix()
	want := []hdr{
		{Name: "app/hello/", Type: tar.TypeDir, Mode: 0o755, Mtime: m},
		{Name: "app/hello/world", Type: tar.TypeReg, Mode: 0o644, Size: 3, Mtime: m},
	}
	for _, kind := range []string{"plain", "gzip", "bzip2", "xz", "zstd"} {
		t.Run(kind, func(t *testing.T) {
			archive := compressWith(t, kind, helloTar(t))
			if !IsArchive(archive) {
				t.Error("IsArchive: false")
			}
			got, err := copyArchive(t, archive, "/app", ArchiveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCopyArchiveReroots(t *testing.T) {
	archive := makeTar(t,
		tent{name: "./", typ: tar.TypeDir, mode: 0o700},
		tent{name: "../../etc/passwd", body: "r", uid: 5, gid: 6},
		tent{name: "/abs/f", body: "a", xattrs: map[string]string{"user.x": "1"}},
		tent{name: "l", typ: tar.TypeLink, link: "../../../abs/f"},
		tent{name: "s", typ: tar.TypeSymlink, link: "/etc/passwd"},
		tent{name: "d/../../x/", typ: tar.TypeDir},
	)
	m := t0.Unix()
	tests := []struct {
		name string
		dest string
		opts ArchiveOptions
		want []hdr
	}{{
		name: "below dest",
		dest: "/srv/app/",
		want: []hdr{
			{Name: "srv/app/etc/passwd", Type: tar.TypeReg, Mode: 0o644, UID: 5, GID: 6, Size: 1, Mtime: m},
			{Name: "srv/app/abs/f", Type: tar.TypeReg, Mode: 0o644, Size: 1, Mtime: m,
				PAX: map[string]string{"SCHILY.xattr.user.x": "1"}},
			{Name: "srv/app/l", Type: tar.TypeLink, Link: "srv/app/abs/f", Mode: 0o644, Mtime: m},
			{Name: "srv/app/s", Type: tar.TypeSymlink, Link: "/etc/passwd", Mode: 0o644, Mtime: m},
			{Name: "srv/app/x/", Type: tar.TypeDir, Mode: 0o755, Mtime: m},
		},
	}, {
		name: "root and chown",
		dest: "/",
		opts: ArchiveOptions{Chown: &Owner{UID: 1000, GID: 100}},
		want: []hdr{
			{Name: "etc/passwd", Type: tar.TypeReg, Mode: 0o644, UID: 1000, GID: 100, Size: 1, Mtime: m},
			{Name: "abs/f", Type: tar.TypeReg, Mode: 0o644, UID: 1000, GID: 100, Size: 1, Mtime: m,
				PAX: map[string]string{"SCHILY.xattr.user.x": "1"}},
			{Name: "l", Type: tar.TypeLink, Link: "abs/f", Mode: 0o644, UID: 1000, GID: 100, Mtime: m},
			{Name: "s", Type: tar.TypeSymlink, Link: "/etc/passwd", Mode: 0o644, UID: 1000, GID: 100,
				Mtime: m},
			{Name: "x/", Type: tar.TypeDir, Mode: 0o755, UID: 1000, GID: 100, Mtime: m},
		},
	}, {
		name: "epoch",
		dest: "out",
		opts: ArchiveOptions{Epoch: &t0},
		want: []hdr{
			{Name: "out/etc/passwd", Type: tar.TypeReg, Mode: 0o644, UID: 5, GID: 6, Size: 1, Mtime: m},
			{Name: "out/abs/f", Type: tar.TypeReg, Mode: 0o644, Size: 1, Mtime: m,
				PAX: map[string]string{"SCHILY.xattr.user.x": "1"}},
			{Name: "out/l", Type: tar.TypeLink, Link: "out/abs/f", Mode: 0o644, Mtime: m},
			{Name: "out/s", Type: tar.TypeSymlink, Link: "/etc/passwd", Mode: 0o644, Mtime: m},
			{Name: "out/x/", Type: tar.TypeDir, Mode: 0o755, Mtime: m},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := copyArchive(t, archive, tt.dest, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCopyArchiveErrors(t *testing.T) {
	gz := compressWith(t, "gzip", helloTar(t))
	tests := []struct {
		name    string
		archive []byte
		dest    string
		wantErr string
	}{
		{"dest climbs", helloTar(t), "../x", "climbs out"},
		{"not a tar", []byte(strings.Repeat("text ", 200)), "/", "reading tar"},
		{"empty tar", make([]byte, 1024), "/", "no entries"},
		{"truncated gzip", gz[:len(gz)/2], "/", "unexpected EOF"},
		{"bad gzip header", append([]byte{0x1f, 0x8b, 0}, gz[3:]...), "/", "gzip"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := copyArchive(t, tt.archive, tt.dest, ArchiveOptions{})
			if !errContains(err, tt.wantErr) {
				t.Errorf("CopyArchive error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestIsArchive(t *testing.T) {
	raw := helloTar(t)
	big := makeTar(t, tent{name: "big", body: strings.Repeat("abcdefgh", 100_000)})
	zbig := compressWith(t, "zstd", big)
	v7 := helloTar(t)
	copy(v7[257:265], make([]byte, 8)) // no ustar magic: an old v7 header
	fixChecksum(v7[:512])

	tests := []struct {
		name string
		head []byte
		want bool
	}{
		{"plain tar", raw, true},
		{"v7 tar", v7, true},
		{"gzip tar", compressWith(t, "gzip", raw), true},
		{"bzip2 tar", compressWith(t, "bzip2", raw), true},
		{"xz tar", compressWith(t, "xz", raw), true},
		{"zstd tar", compressWith(t, "zstd", raw), true},
		{"gzip text", compressWith(t, "gzip", []byte(strings.Repeat("just text\n", 100))), false},
		{"short gzip text", compressWith(t, "gzip", []byte("tiny")), false},
		{"plain text", []byte(strings.Repeat("just text\n", 100)), false},
		{"empty", nil, false},
		{"empty tar", make([]byte, 1024), false},
		{"bad checksum", append(append([]byte{}, raw[:148]...), raw[156:]...), false},
		{"cut zstd prefix", zbig[:64], true},
		{"gzip prefix", compressWith(t, "gzip", big)[:1000], true},
		{"gzip text prefix", compressWith(t, "gzip", []byte(strings.Repeat("text\n", 1e5)))[:100],
			false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsArchive(tt.head); got != tt.want {
				t.Errorf("IsArchive = %v, want %v", got, tt.want)
			}
		})
	}

	p := filepath.Join(t.TempDir(), "big.tar.zst")
	if err := os.WriteFile(p, zbig, 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, err := IsArchiveFile(p); !ok || err != nil {
		t.Errorf("IsArchiveFile = %v, %v; want true", ok, err)
	}
}

// fixChecksum recomputes a tar header block's checksum.
func fixChecksum(b []byte) {
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b {
		sum += int64(c)
	}
	copy(b[148:156], []byte(strings.Repeat("0", 6-len(octal(sum)))+octal(sum)+"\x00 "))
}

func octal(n int64) string {
	var s string
	for n > 0 {
		s = string(rune('0'+n%8)) + s
		n /= 8
	}
	return s
}
