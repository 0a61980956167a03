package registry

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// put pushes img to reg/repo with go-containerregistry directly.
func put(t *testing.T, img v1.Image, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func TestPullMirrors(t *testing.T) {
	ctx := context.Background()
	mirror, upstream := startRegistry(t), startRegistry(t)
	amd := linux("amd64", "")
	onMirror := testImage(t, amd, map[string]string{"f": "from the mirror"})
	onUpstream := testImage(t, amd, map[string]string{"f": "from upstream"})
	onlyUpstream := testImage(t, amd, map[string]string{"g": "only upstream"})
	put(t, onMirror, mirror+"/library/busy:latest")
	put(t, onUpstream, upstream+"/library/busy:latest")
	put(t, onlyUpstream, upstream+"/library/other:1")
	put(t, onlyUpstream, upstream+"/user/app:latest")
	put(t, onlyUpstream, mirror+"/somewhere/else:latest")

	tests := []struct {
		name    string
		mirrors []string
		ref     string
		want    v1.Image
		wantErr string
	}{
		{name: "mirror has it", mirrors: []string{mirror}, ref: "busy", want: onMirror},
		{name: "mirror as URL", mirrors: []string{"http://" + mirror + "/"}, ref: "busy",
			want: onMirror},
		{name: "mirror lacks tag", mirrors: []string{mirror}, ref: "other:1", want: onlyUpstream},
		{name: "mirror lacks repo", mirrors: []string{mirror}, ref: "user/app",
			want: onlyUpstream},
		{name: "no mirrors", ref: "busy", want: onUpstream},
		{name: "unreachable mirror", mirrors: []string{closedAddr(t), mirror}, ref: "busy",
			want: onMirror},
		{name: "second mirror", mirrors: []string{startRegistry(t), mirror}, ref: "busy",
			want: onMirror},
		{name: "by digest", mirrors: []string{mirror},
			ref: "busy@" + mustDigest(t, onUpstream).String(), want: onUpstream},
		{name: "not docker.io: mirrors unused", mirrors: []string{mirror},
			ref: upstream + "/library/busy", want: onUpstream},
		{name: "nowhere", mirrors: []string{mirror}, ref: "missing",
			wantErr: "pulling docker.io/library/missing:latest: "},
		{name: "mirror refuses", mirrors: []string{startStatusServer(t, http.StatusUnauthorized)},
			ref: "busy", wantErr: ": HTTP 401 Unauthorized: "},
		{name: "mirror fails", mirrors: []string{startStatusServer(t, http.StatusTeapot)},
			ref: "busy", wantErr: "pulling docker.io/library/busy:latest from mirror 127.0.0.1:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			o.Mirrors = tc.mirrors
			o.upstream = upstream
			img, err := Pull(ctx, tc.ref, o)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Pull(%q) error = %v, want one containing %q", tc.ref, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, want := mustDigest(t, img), mustDigest(t, tc.want); got != want {
				t.Errorf("Pull(%q) = %s, want %s", tc.ref, got, want)
			}
		})
	}
}

// pushIndex pushes an index of one test image per platform and returns the
// images by platform string.
func pushIndex(t *testing.T, ref string, platforms ...v1.Platform) map[string]v1.Image {
	t.Helper()
	imgs := map[string]v1.Image{}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img := testImage(t, p, map[string]string{"arch": platformString(p)})
		imgs[platformString(p)] = img
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: img, Descriptor: v1.Descriptor{Platform: &p},
		})
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	return imgs
}

func TestPullPlatform(t *testing.T) {
	reg := startRegistry(t)
	ref := reg + "/multi:latest"
	imgs := pushIndex(t, ref, linux("amd64", ""), linux("arm64", "v8"), linux("arm", "v6"),
		linux("arm", "v7"), v1.Platform{OS: "unknown", Architecture: "unknown"})

	tests := []struct {
		name string
		want v1.Platform
		got  string // key into imgs
	}{
		{name: "amd64", want: linux("amd64", ""), got: "linux/amd64"},
		{name: "arm64 without variant", want: linux("arm64", ""), got: "linux/arm64/v8"},
		{name: "arm64 v8", want: linux("arm64", "v8"), got: "linux/arm64/v8"},
		{name: "arm v7", want: linux("arm", "v7"), got: "linux/arm/v7"},
		{name: "arm v6", want: linux("arm", "v6"), got: "linux/arm/v6"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions()
			o.Platform = &tc.want
			img, err := Pull(context.Background(), ref, o)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := mustDigest(t, img), mustDigest(t, imgs[tc.got]); got != want {
				t.Errorf("Pull for %s = %s, want the %s image %s", platformString(tc.want),
					got, tc.got, want)
			}
		})
	}

	t.Run("no match", func(t *testing.T) {
		o := testOptions()
		o.Platform = &v1.Platform{OS: "linux", Architecture: "s390x"}
		_, err := Pull(context.Background(), ref, o)
		var pe *PlatformError
		if !errors.As(err, &pe) {
			t.Fatalf("Pull error = %v, want a *PlatformError", err)
		}
		want := []string{"linux/amd64", "linux/arm/v6", "linux/arm/v7", "linux/arm64/v8"}
		if diff := cmp.Diff(want, pe.Available); diff != "" {
			t.Errorf("available platforms (-want +got):\n%s", diff)
		}
		for _, s := range []string{"pulling " + ref, "linux/s390x", "linux/arm/v7"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not contain %q", err, s)
			}
		}
	})
}

func TestPullDefaultPlatform(t *testing.T) {
	reg := startRegistry(t)
	ref := reg + "/multi:latest"
	host := HostPlatform()
	imgs := pushIndex(t, ref, linux("s390x", ""), host)
	img, err := Pull(context.Background(), ref, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustDigest(t, img), mustDigest(t, imgs[platformString(host)]); got != want {
		t.Errorf("Pull picked %s, want the host platform's image %s", got, want)
	}
}

// TestPullLazy checks that pulling fetches manifests only, the config when
// it is read, and a layer blob only when its content is read.
func TestPullLazy(t *testing.T) {
	reg := startRegistry(t)
	ref := reg + "/lazy:1"
	src := twoLayerImage(t)
	put(t, src, ref)

	ct := &countingTransport{}
	o := testOptions()
	o.Transport = ct
	img, err := Pull(context.Background(), ref, o)
	if err != nil {
		t.Fatal(err)
	}
	if n := ct.get("GET blob"); n != 0 {
		t.Errorf("after Pull: %d blob GETs, want 0", n)
	}

	// What a build without RUN does: read the config, add a layer, push or
	// export the manifest.
	if _, err := img.ConfigFile(); err != nil {
		t.Fatal(err)
	}
	extra := testImage(t, linux("amd64", ""), map[string]string{"c": "3"})
	extraLayers, err := extra.Layers()
	if err != nil {
		t.Fatal(err)
	}
	built, err := mutate.AppendLayers(img, extraLayers...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := built.RawManifest(); err != nil {
		t.Fatal(err)
	}
	if n := ct.get("GET blob"); n != 1 {
		t.Errorf("after reading the config and appending a layer: %d blob GETs, want 1", n)
	}

	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if n := ct.get("GET blob"); n != 2 {
		t.Errorf("after reading one layer: %d blob GETs, want 2", n)
	}
	if err := validate.Image(img); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
}

// TestPullSelfSignedLoopback pulls from a registry on 127.0.0.1 that speaks
// HTTPS with a certificate nobody trusts: loopback hosts are insecure, so
// the certificate is not checked, as Docker does.
func TestPullSelfSignedLoopback(t *testing.T) {
	srv := httptest.NewTLSServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	img := testImage(t, linux("amd64", ""), map[string]string{"tls": "yes"})
	r, err := name.ParseReference(host + "/tls:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithTransport(srv.Client().Transport)); err != nil {
		t.Fatal(err)
	}
	got, err := Pull(context.Background(), host+"/tls:1", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, got) != mustDigest(t, img) {
		t.Error("pulled another image")
	}
}
