package builder

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ibuild/ibuild/layers"
)

func TestParseCacheOption(t *testing.T) {
	cases := []struct {
		name, flag, in string
		want           RegistryCache
		err            string
	}{
		{name: "bare ref", flag: "--cache-from", in: "reg:5000/app:cache",
			want: RegistryCache{Ref: "reg:5000/app:cache", Mode: CacheModeMin}},
		{name: "registry", flag: "--cache-from", in: "type=registry,ref=reg/app:c",
			want: RegistryCache{Ref: "reg/app:c", Mode: CacheModeMin}},
		{name: "max", flag: "--cache-to", in: "type=registry,ref=reg/app:c,mode=max",
			want: RegistryCache{Ref: "reg/app:c", Mode: CacheModeMax}},
		{name: "ignore-error and buildx keys", flag: "--cache-to",
			in: "type=registry,ref=r/a:c,ignore-error=true," +
				"oci-mediatypes=true,image-manifest=true",
			want: RegistryCache{Ref: "r/a:c", Mode: CacheModeMin, IgnoreError: true}},
		{name: "inline", flag: "--cache-to", in: "type=inline",
			err: `cache type "inline" is not supported: ibuild keeps no cache in the image`},
		{name: "local", flag: "--cache-from", in: "type=local,src=/tmp/c",
			err: `cache type "local" is not supported`},
		{name: "unknown key", flag: "--cache-to", in: "type=registry,ref=r/a:c,compression=zstd",
			err: `unknown key "compression"`},
		{name: "gha", flag: "--cache-from", in: "type=gha",
			err: `cache type "gha" is not supported`},
		{name: "no type", flag: "--cache-to", in: "ref=r/a:c", err: "missing type=registry"},
		{name: "no ref", flag: "--cache-to", in: "type=registry", err: "missing ref="},
		{name: "bad mode", flag: "--cache-to", in: "type=registry,ref=r/a:c,mode=all",
			err: "mode=all: use min or max"},
		{name: "mode on import", flag: "--cache-from", in: "type=registry,ref=r/a:c,mode=max",
			err: "mode is an option of --cache-to"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCacheOption(tc.flag, tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) ||
					!strings.HasPrefix(err.Error(), tc.flag+" ") {
					t.Fatalf("error %v, want one from %s naming %q", err, tc.flag, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseCacheConfig: a record is used only when the layer it names is a
// layer of the artifact as listed in its manifest.
func TestParseCacheConfig(t *testing.T) {
	hash := func(c byte) v1.Hash {
		return v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string(c), 64)}
	}
	listed := []v1.Descriptor{{MediaType: types.OCILayer, Size: 10, Digest: hash('a')}}
	desc := func(d v1.Hash, size int64, mt types.MediaType) *layers.Desc {
		return &layers.Desc{Digest: d, DiffID: hash('f'), Size: size, MediaType: mt}
	}
	key := func(c byte) string { return strings.Repeat(string(c), 64) }
	h := &v1.History{CreatedBy: "RUN x"}
	in := cacheConfig{Version: 1, Records: []cacheRecord{
		{Key: key('1'), Layer: desc(hash('a'), 10, types.OCILayer), History: h},
		{Key: key('2'), History: h},
		{Key: key('3'), Layer: desc(hash('b'), 10, types.OCILayer), History: h},
		{Key: key('4'), Layer: desc(hash('a'), 11, types.OCILayer), History: h},
		{Key: key('5'), Layer: desc(hash('a'), 10, types.OCIConfigJSON), History: h},
		{Key: "short", History: h},
		{Key: key('6')},
	}, Mounts: []mountRecord{
		{ID: "/cache", Layer: *desc(hash('a'), 10, types.OCILayer)},
		{ID: "/other", Layer: *desc(hash('c'), 10, types.OCILayer)},
	}}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseCacheConfig(raw, listed)
	if err != nil {
		t.Fatal(err)
	}
	var keys, mounts []string
	for _, r := range got.Records {
		keys = append(keys, r.Key[:1])
	}
	for _, m := range got.Mounts {
		mounts = append(mounts, m.ID)
	}
	if diff := cmp.Diff([]string{"1", "2"}, keys); diff != "" {
		t.Errorf("records kept (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/cache"}, mounts); diff != "" {
		t.Errorf("mounts kept (-want +got):\n%s", diff)
	}
	if _, err := parseCacheConfig([]byte(`{"version":2}`), nil); err == nil ||
		!strings.Contains(err.Error(), "version 2") {
		t.Errorf("a config of version 2: %v, want an error naming the version", err)
	}
}

// TestCacheEstargzRebuild: a cached rebuild with eStargz layers keeps their
// TOC annotations, so it gives the same image (the local cache entry once
// lost them; a registry cache record is the same entry).
func TestCacheEstargzRebuild(t *testing.T) {
	r := newCacheRig(t, "FROM scratch\nCOPY a /a\n", []ctxFile{{path: "a", content: "a"}},
		func(o *Options) { o.Compression = layers.Estargz })
	first, _ := r.build(nil)
	second, steps, img := r.buildImage(nil)
	if pattern(steps) != "CC" || first != second {
		t.Errorf("cached rebuild: steps %s, digest %s after %s; want CC and the same digest",
			pattern(steps), second, first)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	const toc = "containerd.io/snapshot/stargz/toc.digest"
	if len(m.Layers) != 1 || m.Layers[0].Annotations[toc] == "" {
		t.Errorf("the cached layer lost its eStargz annotations: %+v", m.Layers)
	}
}
