//go:build linux

package layers

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// countingLayer counts how often its uncompressed stream is opened.
type countingLayer struct {
	v1.Layer
	opens atomic.Int32
}

func (l *countingLayer) Uncompressed() (io.ReadCloser, error) {
	l.opens.Add(1)
	return l.Layer.Uncompressed()
}

func writeTestLayer(t *testing.T, s *Store, c Compression, ents ...tent) (Desc, v1.Layer) {
	t.Helper()
	var entries []Entry
	for _, e := range ents {
		body := e.body
		entries = append(entries, Entry{Header: *e.header(), Open: func() (io.ReadCloser, error) {
			return io.NopCloser(stringsReader(body)), nil
		}})
	}
	d, err := s.WriteEntries(context.Background(), WriteOptions{Compression: c}, entries)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Layer(d)
	if err != nil {
		t.Fatal(err)
	}
	return d, l
}

var layerEnts = []tent{
	{name: "bin/", typ: tar.TypeDir},
	{name: "bin/sh", body: "#!", mode: 0o755},
	{name: "bin/ash", typ: tar.TypeLink, link: "bin/sh"},
	{name: ".wh.old"},
	{name: "etc/.wh..wh..opq"},
	{name: "etc/motd", body: "hi", uid: 1000, gid: 1000},
}

func TestUnpack(t *testing.T) {
	for _, c := range []Compression{Gzip, Zstd, Uncompressed} {
		t.Run(string(c), func(t *testing.T) {
			s := newStore(t)
			d, l := writeTestLayer(t, s, c, layerEnts...)
			dir, err := s.Unpack(context.Background(), l)
			if err != nil {
				t.Fatal(err)
			}
			if dir != s.UnpackedPath(d.DiffID) {
				t.Errorf("unpacked into %s, want %s", dir, s.UnpackedPath(d.DiffID))
			}
			want := map[string]node{
				".": dirNode(0o755), "bin": dirNode(0o755),
				"bin/sh": fileNode("#!", 0o755), "bin/ash": fileNode("#!", 0o755),
				"old":      whiteoutNode,
				"etc":      {Type: "dir", Mode: 0o755, Xattrs: map[string]string{OpaqueXattr: "y"}},
				"etc/motd": {Type: "file", Mode: 0o644, UID: 1000, GID: 1000, Body: "hi"},
			}
			if diff := cmp.Diff(want, snapshot(t, dir), ignoreMtime); diff != "" {
				t.Errorf("unpacked tree (-want +got):\n%s", diff)
			}
			assertEmpty(t, filepath.Join(s.Root, "tmp"))
		})
	}
}

func TestUnpackOnce(t *testing.T) {
	s := newStore(t)
	_, l := writeTestLayer(t, s, Gzip, layerEnts...)
	cl := &countingLayer{Layer: l}
	const n = 8
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { dirs[i], errs[i] = s.Unpack(context.Background(), cl) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Errorf("caller %d: %s, %v; want %s", i, dirs[i], errs[i], dirs[0])
		}
	}
	if got := cl.opens.Load(); got != 1 {
		t.Errorf("layer read %d times, want once", got)
	}
	// A later call finds the tree without reading the layer again.
	if _, err := s.Unpack(context.Background(), cl); err != nil || cl.opens.Load() != 1 {
		t.Errorf("second Unpack: %v, %d reads", err, cl.opens.Load())
	}
	assertEmpty(t, filepath.Join(s.Root, "tmp"))
}

func TestUnpackBadLayers(t *testing.T) {
	tests := []struct {
		name    string
		spoil   func(t *testing.T, s *Store, d *Desc)
		wantErr string
	}{{
		name:    "diff ID mismatch",
		spoil:   func(t *testing.T, s *Store, d *Desc) { d.DiffID = sha([]byte("other")) },
		wantErr: "does not match its diff ID",
	}, {
		name: "corrupted gzip",
		spoil: func(t *testing.T, s *Store, d *Desc) {
			rewriteBlob(t, s, *d, func(b []byte) { b[len(b)/2] ^= 0xff })
		},
		wantErr: "unpacking layer sha256:",
	}, {
		name: "flipped crc",
		spoil: func(t *testing.T, s *Store, d *Desc) {
			rewriteBlob(t, s, *d, func(b []byte) { b[len(b)-6] ^= 0xff })
		},
		wantErr: "checksum",
	}, {
		name: "not gzip",
		spoil: func(t *testing.T, s *Store, d *Desc) {
			rewriteBlob(t, s, *d, func(b []byte) { b[0] = 'x' })
		},
		wantErr: "gzip",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			big := tent{name: "big", body: string(make([]byte, 3<<20))}
			d, _ := writeTestLayer(t, s, Gzip, append([]tent{big}, layerEnts...)...)
			tt.spoil(t, s, &d)
			l, err := s.Layer(d)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Unpack(context.Background(), l)
			if !errContains(err, tt.wantErr) || !errContains(err, d.DiffID.String()) {
				t.Errorf("Unpack error %v, want %q naming %s", err, tt.wantErr, d.DiffID)
			}
			if _, err := os.Lstat(s.UnpackedPath(d.DiffID)); err == nil {
				t.Error("a bad layer was left unpacked")
			}
			assertEmpty(t, filepath.Join(s.Root, "tmp"))
		})
	}
}

func rewriteBlob(t *testing.T, s *Store, d Desc, spoil func([]byte)) {
	t.Helper()
	p := s.BlobPath(d.Digest)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	spoil(b)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAdoptUpper(t *testing.T) {
	s := newStore(t)
	id := sha([]byte("layer"))
	adopt := func(body string) string {
		upper, err := s.MkdirTemp("upper-*")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(upper, "f"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		dir, err := s.AdoptUpper(upper, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(upper); err == nil {
			t.Errorf("upper %s still there", upper)
		}
		return dir
	}
	first := adopt("first")
	if second := adopt("second"); second != first {
		t.Errorf("second adoption went to %s, first to %s", second, first)
	}
	b, err := os.ReadFile(filepath.Join(first, "f"))
	if err != nil || string(b) != "first" {
		t.Errorf("adopted tree holds %q, %v; want the first", b, err)
	}
	assertEmpty(t, filepath.Join(s.Root, "tmp"))
	if _, err := s.AdoptUpper(t.TempDir(), v1.Hash{Algorithm: "sha256", Hex: ".."}); err == nil {
		t.Error("AdoptUpper accepted a malformed diff ID")
	}
}
