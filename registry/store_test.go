package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func openStore(t *testing.T) *ImageStore {
	t.Helper()
	s, err := OpenImageStore(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tagsByImage summarises List as image digest -> sorted tags.
func tagsByImage(t *testing.T, s *ImageStore) map[v1.Hash][]string {
	t.Helper()
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	out := map[v1.Hash][]string{}
	for _, si := range list {
		tags := append([]string{}, si.Tags...)
		sort.Strings(tags)
		out[si.Digest] = tags
	}
	return out
}

func TestOpenImageStore(t *testing.T) {
	s := openStore(t)
	for _, p := range []string{"oci-layout", "index.json", "blobs/sha256", "tmp", "locks"} {
		if _, err := os.Stat(filepath.Join(s.Root, p)); err != nil {
			t.Errorf("after OpenImageStore: %v", err)
		}
	}
	ii, err := layout.ImageIndexFromPath(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 0 {
		t.Errorf("a new store has %d index entries, want 0", len(im.Manifests))
	}
	// Opening again keeps what is there.
	img := testImage(t, linux("amd64", ""))
	if err := s.Save(context.Background(), img, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenImageStore(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Image("a"); err != nil {
		t.Errorf("image lost on reopening: %v", err)
	}
}

func TestSaveAndLookUp(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	img := twoLayerImage(t)
	if err := s.Save(ctx, img, []string{"app:1", "app", "docker.io/library/app:1"}); err != nil {
		t.Fatal(err)
	}
	digest, id := mustDigest(t, img), mustConfigName(t, img)

	// index.json as containerd writes it: one entry per name.
	im, err := s.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	entry := func(n, tag string) v1.Descriptor {
		return v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: digest,
			Annotations: map[string]string{AnnotationImageName: n, AnnotationRefName: tag}}
	}
	want := []v1.Descriptor{
		entry("docker.io/library/app:1", "1"), entry("docker.io/library/app:latest", "latest"),
	}
	if diff := cmp.Diff(want, im.Manifests); diff != "" {
		t.Errorf("index entries (-want +got):\n%s", diff)
	}

	for _, ref := range []string{
		"app:1", "app", "app:latest", "docker.io/library/app:1", "index.docker.io/library/app",
		digest.String(), "app@" + digest.String(), id.String(), id.Hex, id.Hex[:12],
		"sha256:" + id.Hex[:20],
	} {
		got, err := s.Image(ref)
		if err != nil {
			t.Errorf("Image(%q): %v", ref, err)
			continue
		}
		if d := mustDigest(t, got); d != digest {
			t.Errorf("Image(%q) = %s, want %s", ref, d, digest)
		}
	}
	missing := []string{"app:2", "other", id.Hex[:11], digest.Hex, "sha256:" + id.Hex[:11]}
	for _, ref := range missing {
		if _, err := s.Image(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Image(%q) error = %v, want ErrNotFound", ref, err)
		}
	}

	got, err := s.Image("app:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("validate.Image of the stored image: %v", err)
	}

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(raw))
	m, _ := img.Manifest()
	size += m.Config.Size
	for _, l := range m.Layers {
		size += l.Size
	}
	cf, _ := img.ConfigFile()
	wantList := []StoredImage{{
		Tags:   []string{"docker.io/library/app:1", "docker.io/library/app:latest"},
		Digest: digest, ID: id, Created: cf.Created.Time, Size: size,
	}}
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestSaveMovesTags(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	amd := linux("amd64", "")
	one := testImage(t, amd, map[string]string{"v": "1"})
	two := testImage(t, amd, map[string]string{"v": "2"})
	three := testImage(t, amd, map[string]string{"v": "3"})
	d1, d2, d3 := mustDigest(t, one), mustDigest(t, two), mustDigest(t, three)

	steps := []struct {
		name string
		img  v1.Image
		tags []string
		want map[v1.Hash][]string
	}{
		{name: "first", img: one, tags: []string{"app:1", "app:latest"},
			want: map[v1.Hash][]string{
				d1: {"docker.io/library/app:1", "docker.io/library/app:latest"}}},
		{name: "same again", img: one, tags: []string{"app:1"},
			want: map[v1.Hash][]string{
				d1: {"docker.io/library/app:1", "docker.io/library/app:latest"}}},
		{name: "one tag moves", img: two, tags: []string{"app:latest"},
			want: map[v1.Hash][]string{
				d1: {"docker.io/library/app:1"}, d2: {"docker.io/library/app:latest"}}},
		{name: "last tag moves: dangling", img: three, tags: []string{"app:1", "app:latest"},
			want: map[v1.Hash][]string{
				d1: {}, d2: {}, d3: {"docker.io/library/app:1", "docker.io/library/app:latest"}}},
		{name: "untagged save of a dangling image", img: one,
			want: map[v1.Hash][]string{
				d1: {}, d2: {}, d3: {"docker.io/library/app:1", "docker.io/library/app:latest"}}},
		{name: "dangling image tagged again", img: two, tags: []string{"two"},
			want: map[v1.Hash][]string{d1: {}, d2: {"docker.io/library/two:latest"},
				d3: {"docker.io/library/app:1", "docker.io/library/app:latest"}}},
	}
	for _, st := range steps {
		if err := s.Save(ctx, st.img, st.tags); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, tagsByImage(t, s)); diff != "" {
			t.Errorf("%s: images (-want +got):\n%s", st.name, diff)
		}
	}
	im, err := s.readIndex()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(im.Manifests); n != 4 {
		t.Errorf("index has %d entries, want 4 (1 dangling, 3 names)", n)
	}
}

func TestTagAndRemove(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	amd := linux("amd64", "")
	one := testImage(t, amd, map[string]string{"v": "1"})
	two := testImage(t, amd, map[string]string{"v": "2"})
	d1, d2 := mustDigest(t, one), mustDigest(t, two)
	id1 := mustConfigName(t, one)
	if err := s.Save(ctx, one, []string{"app:1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(ctx, two, []string{"app:2"}); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name    string
		do      func() error
		wantErr error
		want    map[v1.Hash][]string
	}{
		{name: "tag by name", do: func() error { return s.Tag("app:1", "other/app:x") },
			want: map[v1.Hash][]string{
				d1: {"docker.io/library/app:1", "docker.io/other/app:x"},
				d2: {"docker.io/library/app:2"}}},
		{name: "tag by ID moves a tag", do: func() error { return s.Tag(id1.Hex[:12], "app:2") },
			want: map[v1.Hash][]string{
				d1: {"docker.io/library/app:1", "docker.io/library/app:2",
					"docker.io/other/app:x"},
				d2: {}}},
		{name: "tag unknown", do: func() error { return s.Tag("nope", "x") },
			wantErr: ErrNotFound},
		{name: "remove by ID in two repositories",
			do:      func() error { return s.Remove(id1.String()) },
			wantErr: ErrConflict},
		{name: "remove tag", do: func() error { return s.Remove("other/app:x") },
			want: map[v1.Hash][]string{
				d1: {"docker.io/library/app:1", "docker.io/library/app:2"}, d2: {}}},
		{name: "remove unknown", do: func() error { return s.Remove("app:3") },
			wantErr: ErrNotFound},
		{name: "remove by ID, one repository",
			do:   func() error { return s.Remove(id1.Hex) },
			want: map[v1.Hash][]string{d2: {}}},
		{name: "remove dangling by digest",
			do:   func() error { return s.Remove(d2.String()) },
			want: map[v1.Hash][]string{}},
	}
	for _, st := range steps {
		err := st.do()
		if st.wantErr != nil {
			if !errors.Is(err, st.wantErr) {
				t.Errorf("%s: error = %v, want %v", st.name, err, st.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, tagsByImage(t, s)); diff != "" {
			t.Errorf("%s: images (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestSaveConcurrent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	const n = 8
	imgs := make([]v1.Image, n)
	for i := range imgs {
		imgs[i] = testImage(t, linux("amd64", ""), map[string]string{"n": fmt.Sprint(i)},
			map[string]string{"shared": "same layer in every image"})
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range imgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A second store value on the same root, as another process would.
			other := &ImageStore{Root: s.Root}
			errs[i] = other.Save(ctx, imgs[i], []string{fmt.Sprintf("con:%d", i), "con:shared"})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Save %d: %v", i, err)
		}
	}
	got := tagsByImage(t, s)
	if len(got) != n {
		t.Fatalf("store has %d images, want %d: %v", len(got), n, got)
	}
	shared := 0
	for i, img := range imgs {
		tags := got[mustDigest(t, img)]
		want := fmt.Sprintf("docker.io/library/con:%d", i)
		if len(tags) == 0 || tags[0] != want {
			t.Errorf("image %d has tags %v, want %s among them", i, tags, want)
		}
		if len(tags) == 2 {
			shared++
		}
	}
	if shared != 1 {
		t.Errorf("%d images carry con:shared, want exactly 1", shared)
	}
	tmp, err := os.ReadDir(filepath.Join(s.Root, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tmp) != 0 {
		t.Errorf("ROOT/tmp keeps %d files after Save", len(tmp))
	}
	ii, err := layout.ImageIndexFromPath(s.Root)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(ii); err != nil {
		t.Errorf("validate.Index of the store: %v", err)
	}
}

// failingLayer wraps a layer whose blob must not be read.
type failingLayer struct{ v1.Layer }

func (failingLayer) Compressed() (io.ReadCloser, error) {
	return nil, errors.New("blob read although the store has it")
}

func TestSaveSkipsExistingBlobs(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	img := testImage(t, linux("amd64", ""), map[string]string{"a": "1"})
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	// What layers.Store does: the blob is already in ROOT/blobs.
	h, _ := layers[0].Digest()
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writeBlob(ctx, h, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	before, err := os.Stat(s.blobPath(h))
	if err != nil {
		t.Fatal(err)
	}

	wrapped := &layerSwap{Image: img, layers: []v1.Layer{failingLayer{layers[0]}}}
	if err := s.Save(ctx, wrapped, []string{"x"}); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(s.blobPath(h))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("Save replaced a blob the store already had")
	}
}

// layerSwap is an image whose Layers returns the given layers.
type layerSwap struct {
	v1.Image
	layers []v1.Layer
}

func (l *layerSwap) Layers() ([]v1.Layer, error) { return l.layers, nil }

// corruptLayer claims a digest its content does not have.
type corruptLayer struct{ v1.Layer }

func (c corruptLayer) Digest() (v1.Hash, error) {
	return v1.NewHash("sha256:" + fmt.Sprintf("%064d", 1))
}

func TestSaveRejectsCorruptBlob(t *testing.T) {
	s := openStore(t)
	img := testImage(t, linux("amd64", ""), map[string]string{"a": "1"})
	layers, _ := img.Layers()
	bad := &layerSwap{Image: img, layers: []v1.Layer{corruptLayer{layers[0]}}}
	err := s.Save(context.Background(), bad, []string{"bad"})
	if err == nil {
		t.Fatal("Save of a layer with a wrong digest succeeded")
	}
	if _, err := s.Image("bad"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a failed Save left a tag: %v", err)
	}
	if _, err := os.Stat(s.blobPath(v1.Hash{Algorithm: "sha256",
		Hex: fmt.Sprintf("%064d", 1)})); err == nil {
		t.Error("a blob with the wrong content was stored")
	}
}

func TestIndexFileIsJSON(t *testing.T) {
	s := openStore(t)
	b, err := os.ReadFile(filepath.Join(s.Root, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"schemaVersion": float64(2),
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests":     []any{},
	}
	if diff := cmp.Diff(want, raw); diff != "" {
		t.Errorf("empty index.json (-want +got):\n%s", diff)
	}
}
