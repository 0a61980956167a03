package registry

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestCacheArtifactRoundTrip pushes a cache artifact and reads it back:
// the config and the layer descriptors (annotations too) come back, a
// pull fetches no layer blob, Open fetches one, and pushing the same
// artifact again uploads nothing.
func TestCacheArtifactRoundTrip(t *testing.T) {
	ctx := context.Background()
	reg := startRegistry(t)
	ref := reg + "/team/cache:1"
	a := static.NewLayer([]byte("layer a"), types.OCILayer)
	b := static.NewLayer([]byte("layer b"), types.OCILayer)
	config := []byte(`{"version":1,"records":[]}`)
	blobs := []CacheBlob{{Layer: a}, {Layer: b, Annotations: map[string]string{"k": "v"}},
		{Layer: a}}
	o := testOptions()
	d, err := PushCache(ctx, ref, config, blobs, o)
	if err != nil {
		t.Fatal(err)
	}

	counts := &countingTransport{}
	o.Transport = counts
	art, err := PullCache(ctx, ref, o)
	if err != nil {
		t.Fatal(err)
	}
	if art.Ref.DigestStr() != d.String() {
		t.Errorf("read %s, pushed %s", art.Ref, d)
	}
	if diff := cmp.Diff(string(config), string(art.Config)); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	var got []string
	for _, l := range art.Layers {
		got = append(got, l.Digest.String()+" "+l.Annotations["k"])
	}
	da, _ := a.Digest()
	db, _ := b.Digest()
	if diff := cmp.Diff([]string{da.String() + " ", db.String() + " v"}, got); diff != "" {
		t.Errorf("layers, one per blob (-want +got):\n%s", diff)
	}
	if n := counts.get("GET blob"); n != 1 {
		t.Errorf("reading the artifact fetched %d blobs, want 1 (the config)", n)
	}
	rc, err := art.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(data) != "layer b" {
		t.Errorf("Open: %q, %v", data, err)
	}

	if _, err := PushCache(ctx, ref, config, blobs, o); err != nil {
		t.Fatal(err)
	}
	if n := counts.get("POST upload") + counts.get("PATCH upload"); n != 0 {
		t.Errorf("pushing the same artifact again started %d uploads", n)
	}
}

// TestPullCacheRefuses: what is not an ibuild cache is refused with an
// error that says what it is.
func TestPullCacheRefuses(t *testing.T) {
	ctx := context.Background()
	reg := startRegistry(t)
	o := testOptions()
	if _, err := Push(ctx, twoLayerImage(t), reg+"/team/app:1", o); err != nil {
		t.Fatal(err)
	}
	bk := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1),
		mediaTypeBuildKitCache)
	if _, err := Push(ctx, bk, reg+"/team/bk:1", o); err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: twoLayerImage(t),
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}})
	if _, err := PushIndex(ctx, idx, reg+"/team/idx:1", o); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, ref, want string }{
		{name: "image", ref: "/team/app:1", want: "an image with config " +
			string(types.OCIConfigJSON) + " is not an ibuild cache"},
		{name: "BuildKit cache", ref: "/team/bk:1", want: "this is a BuildKit cache"},
		{name: "index", ref: "/team/idx:1", want: "is not an ibuild cache"},
		{name: "missing", ref: "/team/none:1", want: "reading cache " + reg + "/team/none:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PullCache(ctx, reg+tc.ref, o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("PullCache: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
