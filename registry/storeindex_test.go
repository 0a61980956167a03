package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// attestedPair is an image of the host platform and the index that lists
// it with testAttestations, as a build without and with --sbom gives.
func attestedPair(t *testing.T, files map[string]string) (v1.Image, v1.ImageIndex) {
	t.Helper()
	img := testImage(t, HostPlatform(), files)
	idx, err := Attach(img, HostPlatform(), testAttestations)
	if err != nil {
		t.Fatal(err)
	}
	return img, idx
}

func mustIndexDigest(t *testing.T, idx v1.ImageIndex) v1.Hash {
	t.Helper()
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTagMovesIntoIndex rebuilds a tag as an index that lists the image it
// named (and back): the image is the same, so nothing is left dangling.
// An index that does not list the image leaves it dangling as before.
func TestTagMovesIntoIndex(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	img, idx := attestedPair(t, map[string]string{"v": "1"})
	_, other := attestedPair(t, map[string]string{"v": "2"})
	m, i, o := mustDigest(t, img), mustIndexDigest(t, idx), mustIndexDigest(t, other)
	app, plain := "docker.io/library/app:latest", "docker.io/library/plain:latest"

	steps := []struct {
		name string
		do   func() error
		want map[v1.Hash][]string
	}{
		{name: "plain build", do: func() error { return s.Save(ctx, img, []string{"app"}) },
			want: map[v1.Hash][]string{m: {app}}},
		{name: "rebuild with --sbom",
			do:   func() error { return s.SaveIndex(ctx, idx, []string{"app"}) },
			want: map[v1.Hash][]string{i: {app}}},
		{name: "rebuild without --sbom",
			do:   func() error { return s.Save(ctx, img, []string{"app"}) },
			want: map[v1.Hash][]string{m: {app}}},
		{name: "tag the index over the image", do: func() error {
			if err := s.SaveIndex(ctx, idx, []string{"plain"}); err != nil {
				return err
			}
			return s.Tag("plain", "app")
		}, want: map[v1.Hash][]string{i: {app, plain}}},
		{name: "another index leaves the old one dangling",
			do:   func() error { return s.SaveIndex(ctx, other, []string{"app", "plain"}) },
			want: map[v1.Hash][]string{i: {}, o: {app, plain}}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, tagsByImage(t, s)); diff != "" {
			t.Errorf("%s: images (-want +got):\n%s", st.name, diff)
		}
	}
}

// danglingAndIndex makes the store a rebuild with --sbom left before the
// fix: the image manifest untagged and the index that lists it tagged app.
func danglingAndIndex(t *testing.T) (*ImageStore, v1.Image, v1.ImageIndex) {
	t.Helper()
	ctx := context.Background()
	s := openStore(t)
	img, idx := attestedPair(t, map[string]string{"v": "1"})
	if err := s.Save(ctx, img, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveIndex(ctx, idx, []string{"app"}); err != nil {
		t.Fatal(err)
	}
	return s, img, idx
}

// TestLookupOneImage looks up an image whose ID an index and the image
// manifest it lists share: the ID is one image, and stands for the tagged
// index; a digest still names one entry.
func TestLookupOneImage(t *testing.T) {
	s, img, idx := danglingAndIndex(t)
	m, i, id := mustDigest(t, img), mustIndexDigest(t, idx), mustConfigName(t, img)
	app := []string{"docker.io/library/app:latest"}
	for _, tc := range []struct {
		name, ref string
		want      Entry
	}{
		{"short ID", id.Hex[:12], Entry{digestOnly(i), app, id}},
		{"full ID", id.String(), Entry{digestOnly(i), app, id}},
		{"tag", "app", Entry{digestOnly(i), app, id}},
		{"index digest", i.String(), Entry{digestOnly(i), app, id}},
		{"image digest", m.String(), Entry{digestOnly(m), nil, id}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Lookup(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			got.Descriptor = v1.Descriptor{Digest: got.Descriptor.Digest}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Lookup(%s) (-want +got):\n%s", tc.ref, diff)
			}
			image, err := s.Image(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			if d := mustDigest(t, image); d != m {
				t.Errorf("Image(%s) = %s, want the image %s", tc.ref, d, m)
			}
		})
	}
	if _, err := s.Index(m.String()); err == nil {
		t.Errorf("Index(%s) of an image manifest: no error", m)
	}
	got, err := s.Index("app")
	if err != nil || mustIndexDigest(t, got) != i {
		t.Errorf("Index(app) = %v, %v; want %s", got, err, i)
	}
}

// digestOnly is a descriptor with only the digest h, for comparing entries.
func digestOnly(h v1.Hash) v1.Descriptor { return v1.Descriptor{Digest: h} }

// TestRemoveOneImage removes by ID an image stored as an index and the
// image manifest it lists: every entry goes, and with names in two
// repositories only when forced.
func TestRemoveOneImage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		extra   string // another name for the image manifest
		opts    RemoveOptions
		wantErr error
	}{
		{name: "one repository"},
		{name: "two repositories", extra: "other/app:x", wantErr: ErrConflict},
		{name: "two repositories, forced", extra: "other/app:x", opts: RemoveOptions{Force: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, img, _ := danglingAndIndex(t)
			id := mustConfigName(t, img)
			if tc.extra != "" {
				if err := s.Tag(mustDigest(t, img).String(), tc.extra); err != nil {
					t.Fatal(err)
				}
			}
			err := s.RemoveWith(id.Hex[:12], tc.opts)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("RemoveWith(%s, %+v) = %v, want %v", id.Hex[:12], tc.opts, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if got := tagsByImage(t, s); len(got) != 0 {
				t.Errorf("after removing the image by ID the store holds %v", got)
			}
		})
	}
}

// TestRemoveUntagged drops the dangling images and nothing else, and
// leaves a store without an index alone.
func TestRemoveUntagged(t *testing.T) {
	s, img, idx := danglingAndIndex(t)
	removed, err := s.RemoveUntagged()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]v1.Hash{mustDigest(t, img)}, removed); diff != "" {
		t.Errorf("RemoveUntagged removed (-want +got):\n%s", diff)
	}
	want := map[v1.Hash][]string{mustIndexDigest(t, idx): {"docker.io/library/app:latest"}}
	if diff := cmp.Diff(want, tagsByImage(t, s)); diff != "" {
		t.Errorf("images after RemoveUntagged (-want +got):\n%s", diff)
	}
	if removed, err = s.RemoveUntagged(); err != nil || len(removed) != 0 {
		t.Errorf("second RemoveUntagged: %v, %v", removed, err)
	}

	bare := &ImageStore{Root: t.TempDir()}
	if removed, err := bare.RemoveUntagged(); err != nil || len(removed) != 0 {
		t.Errorf("RemoveUntagged of an empty directory: %v, %v", removed, err)
	}
	if _, err := os.Stat(filepath.Join(bare.Root, "index.json")); !os.IsNotExist(err) {
		t.Errorf("RemoveUntagged wrote an index into an empty directory: %v", err)
	}
}

// TestListIndexEntries lists stored indexes with the ID and size of the
// image they stand for, which Image returns: the host platform's, or the
// first one when the host's is not there.
func TestListIndexEntries(t *testing.T) {
	foreign := func(t *testing.T) (v1.ImageIndex, v1.Image) {
		var adds []mutate.IndexAddendum
		var first v1.Image
		for _, arch := range []string{"s390x", "ppc64le"} {
			img := testImage(t, linux(arch, ""), map[string]string{"arch": arch})
			if first == nil {
				first = img
			}
			p := linux(arch, "")
			adds = append(adds, mutate.IndexAddendum{Add: img,
				Descriptor: v1.Descriptor{Platform: &p}})
		}
		return mutate.AppendManifests(empty.Index, adds...), first
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T) (v1.ImageIndex, v1.Image)
	}{
		{"image with attestations", func(t *testing.T) (v1.ImageIndex, v1.Image) {
			img, idx := attestedPair(t, map[string]string{"a": "1"})
			return idx, img
		}},
		{"two platforms", func(t *testing.T) (v1.ImageIndex, v1.Image) {
			idx, imgs := twoPlatforms(t)
			return idx, imgs[HostPlatform().Architecture]
		}},
		{"no image for the host", foreign},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			idx, img := tc.make(t)
			if err := s.SaveIndex(context.Background(), idx, []string{"x:1"}); err != nil {
				t.Fatal(err)
			}
			list, err := s.List()
			if err != nil {
				t.Fatal(err)
			}
			m, err := img.Manifest()
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := img.RawManifest()
			size := int64(len(raw)) + m.Config.Size
			for _, l := range m.Layers {
				size += l.Size
			}
			want := []StoredImage{{Tags: []string{"docker.io/library/x:1"},
				Digest: mustIndexDigest(t, idx), ID: mustConfigName(t, img), Size: size}}
			for i := range list {
				list[i].Created = want[0].Created
			}
			if diff := cmp.Diff(want, list); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			got, err := s.Image("x:1")
			if err != nil || mustDigest(t, got) != mustDigest(t, img) {
				t.Errorf("Image(x:1) = %v, %v; want the image %s", got, err, mustDigest(t, img))
			}
		})
	}
}
