package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// blobsOf lists the digests of img's manifest, config and layers.
func blobsOf(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := []v1.Hash{mustDigest(t, img), m.Config.Digest}
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

func sortHashes(hs []v1.Hash) []v1.Hash {
	out := append([]v1.Hash{}, hs...)
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	amd := linux("amd64", "")
	shared := map[string]string{"shared": "in both images"}
	kept := testImage(t, amd, shared, map[string]string{"k": "kept"})
	gone := testImage(t, amd, shared, map[string]string{"g": "gone"})
	dangling := testImage(t, amd, map[string]string{"d": "dangling"})
	cached := testImage(t, amd, map[string]string{"c": "cached layer"})
	for _, st := range []struct {
		img  v1.Image
		tags []string
	}{
		{kept, []string{"kept"}}, {gone, []string{"gone"}},
		{dangling, nil}, {cached, []string{"c"}},
	} {
		if err := s.Save(ctx, st.img, st.tags); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Remove("gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("c"); err != nil {
		t.Fatal(err)
	}
	// Files Prune must leave alone.
	others := []string{"unpacked/abc/file", "cache/entry", "blobs/sha256/not-a-digest"}
	for _, p := range others {
		p = filepath.Join(s.Root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	cachedLayer := blobsOf(t, cached)[2]
	keep := func(h v1.Hash) bool { return h == cachedLayer }
	res, err := s.Prune(ctx, keep)
	if err != nil {
		t.Fatal(err)
	}
	goneBlobs := blobsOf(t, gone)
	cachedBlobs := blobsOf(t, cached)
	want := sortHashes([]v1.Hash{
		goneBlobs[0], goneBlobs[1], goneBlobs[3], // the shared layer stays
		cachedBlobs[0], cachedBlobs[1], // the layer is kept by the callback
	})
	if diff := cmp.Diff(want, sortHashes(res.Removed)); diff != "" {
		t.Errorf("Prune removed (-want +got):\n%s", diff)
	}
	if res.Bytes <= 0 {
		t.Errorf("Prune reports %d bytes freed", res.Bytes)
	}
	for _, h := range want {
		if s.hasBlob(h) {
			t.Errorf("blob %s survived Prune", h)
		}
	}
	for _, img := range []v1.Image{kept, dangling} {
		for _, h := range blobsOf(t, img) {
			if !s.hasBlob(h) {
				t.Errorf("Prune deleted blob %s of a stored image", h)
			}
		}
	}
	if !s.hasBlob(cachedLayer) {
		t.Error("Prune deleted a blob the keep callback named")
	}
	for _, p := range others {
		if _, err := os.Stat(filepath.Join(s.Root, p)); err != nil {
			t.Errorf("Prune touched %s: %v", p, err)
		}
	}
	img, err := s.Image("kept")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image after Prune: %v", err)
	}

	// A second run finds nothing more.
	res, err = s.Prune(ctx, keep)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 0 {
		t.Errorf("second Prune removed %v", res.Removed)
	}
}

// TestPruneDuringSave runs Prune while images are being saved: no saved
// image may lose a blob.
func TestPruneDuringSave(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	const n = 6
	imgs := make([]v1.Image, n)
	for i := range imgs {
		imgs[i] = testImage(t, linux("amd64", ""), map[string]string{"n": fmt.Sprint(i)})
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	pruneErr := make(chan error, 1)
	go func() {
		defer close(pruneErr)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := (&ImageStore{Root: s.Root}).Prune(ctx, nil); err != nil {
				pruneErr <- err
				return
			}
		}
	}()
	for i := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Save(ctx, imgs[i], []string{fmt.Sprintf("p:%d", i)}); err != nil {
				t.Errorf("Save %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-pruneErr; err != nil {
		t.Fatal(err)
	}
	for i := range imgs {
		img, err := s.Image(fmt.Sprintf("p:%d", i))
		if err != nil {
			t.Fatal(err)
		}
		if err := validate.Image(img); err != nil {
			t.Errorf("image %d after Prune: %v", i, err)
		}
	}
}
