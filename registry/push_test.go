package registry

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestPushRoundTrip(t *testing.T) {
	ctx := context.Background()
	reg := startRegistry(t)
	img := testImage(t, linux("amd64", ""),
		map[string]string{"a": "1"}, map[string]string{"b": "2"}, map[string]string{"c": "3"})

	ct := &countingTransport{}
	o := testOptions()
	o.Transport = ct
	got, err := Push(ctx, img, reg+"/app:1", o)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustDigest(t, img); got != want {
		t.Errorf("Push returned %s, want the manifest digest %s", got, want)
	}
	if n := ct.get("POST upload"); n != 4 {
		t.Errorf("first push started %d uploads, want 4 (3 layers and the config)", n)
	}

	// The same image under another tag: the registry has every blob.
	if _, err := Push(ctx, img, reg+"/app:2", o); err != nil {
		t.Fatal(err)
	}
	if n := ct.get("POST upload"); n != 4 {
		t.Errorf("second push started %d more uploads, want none", n-4)
	}

	for _, tag := range []string{"1", "2"} {
		back, err := Pull(ctx, reg+"/app:"+tag, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		if d := mustDigest(t, back); d != got {
			t.Errorf("pulled back app:%s = %s, want %s", tag, d, got)
		}
		if err := validate.Image(back); err != nil {
			t.Errorf("validate.Image(app:%s): %v", tag, err)
		}
	}
}

// TestPushFromOtherRegistry is the shape of a build without RUN pushed to
// another registry: the base layers stream from the source registry.
func TestPushFromOtherRegistry(t *testing.T) {
	ctx := context.Background()
	src, dst := startRegistry(t), startRegistry(t)
	base := testImage(t, linux("amd64", ""), map[string]string{"base": "x"})
	put(t, base, src+"/base:1")

	pulled, err := Pull(ctx, src+"/base:1", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	add, err := testImage(t, linux("amd64", ""), map[string]string{"app": "y"}).Layers()
	if err != nil {
		t.Fatal(err)
	}
	built, err := mutate.AppendLayers(pulled, add...)
	if err != nil {
		t.Fatal(err)
	}
	digest, err := Push(ctx, built, dst+"/app:latest", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	back, err := Pull(ctx, dst+"/app", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if d := mustDigest(t, back); d != digest {
		t.Errorf("pulled back %s, want %s", d, digest)
	}
	if err := validate.Image(back); err != nil {
		t.Errorf("validate.Image: %v", err)
	}
}

func TestPushErrors(t *testing.T) {
	img := testImage(t, linux("amd64", ""), map[string]string{"a": "1"})
	tests := []struct {
		name string
		ref  string
		want []string
	}{
		{name: "unauthorized", ref: startStatusServer(t, http.StatusUnauthorized) + "/x:1",
			want: []string{"pushing 127.0.0.1:", "/x:1: HTTP 401 Unauthorized", "credentials"}},
		{name: "forbidden", ref: startStatusServer(t, http.StatusForbidden) + "/x:1",
			want: []string{"HTTP 403 Forbidden", "docker login"}},
		{name: "nobody there", ref: closedAddr(t) + "/x:1",
			want: []string{"pushing 127.0.0.1:", "connection refused"}},
		{name: "bad reference", ref: "UPPER/case", want: []string{"parsing image reference"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Push(context.Background(), img, tc.ref, testOptions())
			if err == nil {
				t.Fatal("Push succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}
