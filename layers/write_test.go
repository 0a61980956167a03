//go:build linux

package layers

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := OpenStore(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sha(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// testEntries has a file from a host path, one from Open, a directory, a
// symlink and an empty file.
func testEntries(t testing.TB) []Entry {
	src := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(src, []byte("from disk"), 0o644); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("compressible ", 200_000) // > one pgzip block
	return []Entry{
		{Header: tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: t0}},
		{Header: tar.Header{Name: "app/a", Typeflag: tar.TypeReg, Mode: 0o644, Size: 9, ModTime: t0},
			Source: src},
		{Header: tar.Header{Name: "app/big", Typeflag: tar.TypeReg, Mode: 0o600,
			Size: int64(len(big)), ModTime: t0, Uid: 1000, Gid: 1000},
			Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(big)), nil }},
		{Header: tar.Header{Name: "app/empty", Typeflag: tar.TypeReg, Mode: 0o644, ModTime: t0}},
		{Header: tar.Header{Name: "app/l", Typeflag: tar.TypeSymlink, Linkname: "a", ModTime: t0}},
	}
}

// readBlob checks a written blob against its descriptor and returns its
// uncompressed tar.
func readBlob(t *testing.T, s *Store, d Desc) []byte {
	t.Helper()
	blob, err := os.ReadFile(s.BlobPath(d.Digest))
	if err != nil {
		t.Fatal(err)
	}
	if got := sha(blob); got != d.Digest || int64(len(blob)) != d.Size {
		t.Errorf("blob sha256 %s size %d, desc says %s %d", got, len(blob), d.Digest, d.Size)
	}
	l, err := s.Layer(d)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if got := sha(raw); got != d.DiffID {
		t.Errorf("uncompressed sha256 %s, diff ID %s", got, d.DiffID)
	}
	return raw
}

// headers lists a tar stream's entries as "name type size mtime".
func headers(t *testing.T, raw []byte) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(bytes.NewReader(raw))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name+" "+string(h.Typeflag)+" "+h.ModTime.UTC().Format(time.RFC3339)+
			" "+h.AccessTime.UTC().Format(time.RFC3339))
	}
}

func TestWriteEntries(t *testing.T) {
	for _, tt := range []struct {
		c    Compression
		want types.MediaType
	}{
		{"", types.OCILayer},
		{Gzip, types.OCILayer},
		{Zstd, types.OCILayerZStd},
		{Uncompressed, types.OCIUncompressedLayer},
	} {
		t.Run(string(tt.c), func(t *testing.T) {
			s := newStore(t)
			ents := testEntries(t)
			d, err := s.WriteEntries(context.Background(), WriteOptions{Compression: tt.c}, ents)
			if err != nil {
				t.Fatal(err)
			}
			if d.MediaType != tt.want {
				t.Errorf("media type %s, want %s", d.MediaType, tt.want)
			}
			raw := readBlob(t, s, d)
			if tt.c == Uncompressed && d.Digest != d.DiffID {
				t.Errorf("uncompressed digest %s != diff ID %s", d.Digest, d.DiffID)
			}
			want := []string{
				"app/ 5 2020-01-02T03:04:05Z 0001-01-01T00:00:00Z",
				"app/a 0 2020-01-02T03:04:05Z 0001-01-01T00:00:00Z",
				"app/big 0 2020-01-02T03:04:05Z 0001-01-01T00:00:00Z",
				"app/empty 0 2020-01-02T03:04:05Z 0001-01-01T00:00:00Z",
				"app/l 2 2020-01-02T03:04:05Z 0001-01-01T00:00:00Z",
			}
			if diff := cmp.Diff(want, headers(t, raw)); diff != "" {
				t.Errorf("entries (-want +got):\n%s", diff)
			}
			d2, err := s.WriteEntries(context.Background(), WriteOptions{Compression: tt.c},
				testEntries(t))
			if err != nil {
				t.Fatal(err)
			}
			if d2 != d {
				t.Errorf("second write of the same entries: %+v, first %+v", d2, d)
			}
			assertEmpty(t, filepath.Join(s.Root, "tmp"))
		})
	}
}

func TestGzipHeaderIsReproducible(t *testing.T) {
	s := newStore(t)
	d, err := s.WriteEntries(context.Background(), WriteOptions{}, testEntries(t))
	if err != nil {
		t.Fatal(err)
	}
	blob, err := os.ReadFile(s.BlobPath(d.Digest))
	if err != nil {
		t.Fatal(err)
	}
	// ID1 ID2 CM FLG MTIME(4): no name, no comment, mtime 0.
	if want := []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0}; !bytes.Equal(blob[:8], want) {
		t.Errorf("gzip header % x, want % x", blob[:8], want)
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("left behind in %s: %s", dir, e.Name())
	}
}

func TestWriteEpoch(t *testing.T) {
	epoch := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	late, early := epoch.Add(1000*time.Hour), epoch.Add(-1000*time.Hour)
	fill := func(tw *tar.Writer) error {
		for _, h := range []*tar.Header{
			{Name: "late", Typeflag: tar.TypeReg, ModTime: late, AccessTime: late,
				ChangeTime: late, Format: tar.FormatPAX, Size: 3},
			{Name: "early", Typeflag: tar.TypeReg, ModTime: early, AccessTime: early,
				Format: tar.FormatPAX},
		} {
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if h.Size > 0 {
				if _, err := tw.Write([]byte("abc")); err != nil {
					return err
				}
			}
		}
		return nil
	}
	s := newStore(t)
	opts := WriteOptions{Epoch: &epoch}
	d, err := s.WriteLayer(context.Background(), opts, fill)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"late 0 2021-01-01T00:00:00Z 2021-01-01T00:00:00Z",
		"early 0 " + early.Format(time.RFC3339) + " " + early.Format(time.RFC3339),
	}
	if diff := cmp.Diff(want, headers(t, readBlob(t, s, d))); diff != "" {
		t.Errorf("WriteLayer entries (-want +got):\n%s", diff)
	}

	ents := []Entry{{Header: tar.Header{Name: "late", Typeflag: tar.TypeDir, ModTime: late}}}
	d, err = s.WriteEntries(context.Background(), opts, ents)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"late 5 2021-01-01T00:00:00Z 0001-01-01T00:00:00Z"}
	if diff := cmp.Diff(want, headers(t, readBlob(t, s, d))); diff != "" {
		t.Errorf("WriteEntries entries (-want +got):\n%s", diff)
	}
	if ents[0].Header.ModTime != late {
		t.Error("WriteEntries changed the caller's header")
	}
}

func TestWriteErrors(t *testing.T) {
	boom := errors.New("boom")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	epoch := time.Now()
	tests := []struct {
		name    string
		ctx     context.Context
		opts    WriteOptions
		fill    func(tw *tar.Writer) error
		ents    []Entry
		wantErr string
	}{
		{name: "fill fails", fill: func(*tar.Writer) error { return boom }, wantErr: "boom"},
		{name: "fill fails with epoch", opts: WriteOptions{Epoch: &epoch},
			fill: func(tw *tar.Writer) error {
				tw.WriteHeader(&tar.Header{Name: "a", Typeflag: tar.TypeDir})
				return boom
			}, wantErr: "boom"},
		{name: "unknown compression", opts: WriteOptions{Compression: "lz4"},
			fill: func(*tar.Writer) error { return nil }, wantErr: `unknown compression "lz4"`},
		{name: "bad gzip level", opts: WriteOptions{Level: 42},
			fill: func(*tar.Writer) error { return nil }, wantErr: "gzip level 42"},
		{name: "short content", ents: []Entry{{
			Header: tar.Header{Name: "f", Typeflag: tar.TypeReg, Size: 10},
			Open:   func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("abc")), nil },
		}}, wantErr: "content has 3 bytes, header says 10"},
		{name: "no content", ents: []Entry{{
			Header: tar.Header{Name: "f", Typeflag: tar.TypeReg, Size: 1},
		}}, wantErr: "no content source"},
		{name: "missing source", ents: []Entry{{
			Header: tar.Header{Name: "f", Typeflag: tar.TypeReg, Size: 1}, Source: "/nonexistent",
		}}, wantErr: "no such file"},
		{name: "cancelled", ctx: cancelled, ents: testEntries(t), wantErr: "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			var err error
			if tt.fill != nil {
				_, err = s.WriteLayer(ctx, tt.opts, tt.fill)
			} else {
				_, err = s.WriteEntries(ctx, tt.opts, tt.ents)
			}
			if !errContains(err, tt.wantErr) || tt.wantErr == "" {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
			assertEmpty(t, filepath.Join(s.Root, "tmp"))
			assertEmpty(t, filepath.Join(s.Root, "blobs", "sha256"))
		})
	}
}

func TestLayer(t *testing.T) {
	s := newStore(t)
	d, err := s.WriteEntries(context.Background(), WriteOptions{Compression: Zstd}, testEntries(t))
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Layer(d)
	if err != nil {
		t.Fatal(err)
	}
	dig, _ := l.Digest()
	diffID, _ := l.DiffID()
	size, _ := l.Size()
	mt, _ := l.MediaType()
	if got := (Desc{Digest: dig, DiffID: diffID, Size: size, MediaType: mt}); got != d {
		t.Errorf("layer says %+v, want %+v", got, d)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	blob, _ := io.ReadAll(rc)
	rc.Close()
	if sha(blob) != d.Digest {
		t.Error("Compressed() does not give the blob")
	}

	bad := []struct {
		name    string
		d       Desc
		wantErr string
	}{
		{"missing", Desc{Digest: sha([]byte("x")), MediaType: types.OCILayer}, "no such file"},
		{"size", Desc{Digest: d.Digest, Size: d.Size + 1, MediaType: d.MediaType}, "blob has"},
		{"media type", Desc{Digest: d.Digest, Size: d.Size, MediaType: types.OCIConfigJSON},
			"unsupported layer media type"},
		{"digest", Desc{Digest: v1.Hash{Algorithm: "sha256", Hex: "../../etc"}}, "unsupported digest"},
		{"hex", Desc{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("/", 64)}}, "malformed"},
	}
	for _, tt := range bad {
		if _, err := s.Layer(tt.d); !errContains(err, tt.wantErr) {
			t.Errorf("%s: Layer error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
}

// TestDigestIndependentOfCores checks that the blob bytes do not depend on
// how many cores compress them, so two machines build the same digest.
func TestDigestIndependentOfCores(t *testing.T) {
	for _, c := range []Compression{Gzip, Zstd} {
		var digests []v1.Hash
		for _, procs := range []int{1, 2, 8} {
			old := runtime.GOMAXPROCS(procs)
			d, err := newStore(t).WriteEntries(context.Background(),
				WriteOptions{Compression: c}, testEntries(t))
			runtime.GOMAXPROCS(old)
			if err != nil {
				t.Fatal(err)
			}
			digests = append(digests, d.Digest)
		}
		if digests[0] != digests[1] || digests[0] != digests[2] {
			t.Errorf("%s digests with 1, 2, 8 cores: %v", c, digests)
		}
	}
}
