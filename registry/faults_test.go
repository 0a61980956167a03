package registry

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ibuild/ibuild/internal/testenv"
)

// failBound is the generous limit on how long a request may go on failing
// before Pull or Push gives up: go-containerregistry's backoff (1 s, 3 s),
// Retry-After waits and stall timeouts of a second in these tests.
const failBound = 90 * time.Second

// faultImage pushes an image of two random 1 MiB layers straight to reg
// and returns it with the hex digest of its first layer.
func faultImage(t *testing.T, reg, repo string) (v1.Image, string) {
	t.Helper()
	img, err := random.Image(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(reg+"/"+repo, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := ls[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	return img, d.Hex
}

// pullAll pulls ref and reads every blob, checking sizes and digests.
func pullAll(ctx context.Context, ref string, o Options) (v1.Image, error) {
	img, err := Pull(ctx, ref, o)
	if err != nil {
		return nil, err
	}
	ls, err := img.Layers()
	if err != nil {
		return nil, err
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return nil, err
		}
	}
	return img, validate.Image(img)
}

// TestPullThroughFaults pulls through a proxy that fails requests the way
// networks and busy registries do; every pull completes with the right
// image.
func TestPullThroughFaults(t *testing.T) {
	reg := testenv.Registry(t)
	img, layer := faultImage(t, reg, "faults/pull:1")
	want := mustDigest(t, img)
	type rule struct {
		method, path string
		times        int
		act          func(*faultProxy, http.ResponseWriter, *http.Request)
	}
	tests := []struct {
		name  string
		rules []rule
		// resumed: the layer must have been asked for with a Range header.
		resumed bool
	}{{
		name: "5xx on manifests and blobs",
		rules: []rule{{"GET", "/manifests/", 2, status(503)},
			{"GET", "/blobs/", 2, status(500)}},
	}, {
		name:    "connection reset in the middle of a blob",
		rules:   []rule{{"GET", layer, 3, resetAfter(300 << 10)}},
		resumed: true,
	}, {
		name:    "blob download that stalls",
		rules:   []rule{{"GET", layer, 2, stall}},
		resumed: false, // the stall comes before any byte: a plain retry
	}, {
		name:  "slow registry",
		rules: []rule{{"GET", "/v2/", -1, slow(64<<10, 20*time.Millisecond)}},
	}, {
		name:  "429 without Retry-After",
		rules: []rule{{"GET", "/manifests/", 1, status(429)}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFaultProxy(t, reg)
			for _, r := range tt.rules {
				p.add(r.method, r.path, r.times, r.act)
			}
			o := testOptions()
			o.StallTimeout = time.Second
			got, err := pullAll(t.Context(), p.addr+"/faults/pull:1", o)
			if err != nil {
				t.Fatalf("pull: %v", err)
			}
			if d := mustDigest(t, got); d != want {
				t.Errorf("pulled %s, want %s", d, want)
			}
			ranged := 0
			for _, r := range p.seen("GET", layer) {
				if strings.HasPrefix(r.rng, "bytes=") {
					ranged++
				}
			}
			if tt.resumed && ranged == 0 {
				t.Error("the broken download was not resumed with a Range request")
			}
		})
	}
}

// TestPullRetryAfter checks that a 429 answer's Retry-After is honoured:
// the request comes again no sooner than asked, which go-containerregistry
// alone (1 s backoff) would not do.
func TestPullRetryAfter(t *testing.T) {
	reg := testenv.Registry(t)
	faultImage(t, reg, "faults/ra:1")
	p := newFaultProxy(t, reg)
	p.add("GET", "/manifests/", 1, status(http.StatusTooManyRequests, "Retry-After: 2"))
	if _, err := pullAll(t.Context(), p.addr+"/faults/ra:1", testOptions()); err != nil {
		t.Fatal(err)
	}
	reqs := p.seen("GET", "/manifests/")
	if len(reqs) < 2 {
		t.Fatalf("%d manifest requests, want a refused one and a retry", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 1900*time.Millisecond {
		t.Errorf("retried after %s; the registry asked for 2s", gap)
	}
}

// TestPullFaultsFail checks that faults that do not go away end the pull
// within a bounded time, with an error that says what went wrong.
func TestPullFaultsFail(t *testing.T) {
	reg := testenv.Registry(t)
	_, layer := faultImage(t, reg, "faults/fail:1")
	tests := []struct {
		name, method, path string
		act                func(*faultProxy, http.ResponseWriter, *http.Request)
		wantErr            string
	}{
		{"registry answers 503", "GET", "/manifests/", status(503), "503"},
		{"registry stalls", "", "/v2/", stall, "no response from the registry for 1s"},
		{"every download of a blob breaks", "GET", layer, resetAfter(100 << 10), "reset"},
		{"blob content corrupted", "GET", layer, corrupt, layer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newFaultProxy(t, reg)
			p.add(tt.method, tt.path, -1, tt.act)
			o := testOptions()
			o.StallTimeout = time.Second
			start := time.Now()
			_, err := pullAll(t.Context(), p.addr+"/faults/fail:1", o)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
			if took := time.Since(start); took > failBound {
				t.Errorf("gave up after %s", took)
			}
		})
	}
}

// TestPushThroughFaults pushes through transient upload failures.
func TestPushThroughFaults(t *testing.T) {
	reg := testenv.Registry(t)
	p := newFaultProxy(t, reg)
	p.add("POST", "/blobs/uploads/", 1, status(http.StatusTooManyRequests, "Retry-After: 1"))
	p.add("PATCH", "/blobs/uploads/", 1, status(http.StatusInternalServerError))
	p.add("PUT", "/blobs/uploads/", 1, resetAfter(0))
	p.add("PUT", "/manifests/", 1, status(http.StatusServiceUnavailable))
	img, err := random.Image(1<<20, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(t.Context(), img, p.addr+"/faults/push:1", testOptions()); err != nil {
		t.Fatalf("push: %v", err)
	}
	back, err := pullAll(t.Context(), reg+"/faults/push:1", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, back) != mustDigest(t, img) {
		t.Error("the registry holds another image")
	}
}

// TestPushSlowUpload sends a blob that takes several stall timeouts to go
// up, but never stops moving: the push completes.
func TestPushSlowUpload(t *testing.T) {
	reg := testenv.Registry(t)
	p := newFaultProxy(t, reg)
	p.add("PATCH", "/blobs/uploads/", -1, slowUpload(128<<10, 300*time.Millisecond))
	p.add("PUT", "/blobs/uploads/", -1, slowUpload(128<<10, 300*time.Millisecond))
	img, err := random.Image(1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.StallTimeout = time.Second
	if _, err := Push(t.Context(), img, p.addr+"/faults/slow:1", o); err != nil {
		t.Fatalf("push: %v", err)
	}
	if n := len(p.seen("POST", "/blobs/uploads/")); n != 2 {
		t.Errorf("%d uploads started, want 2 (the layer and the config, once each)", n)
	}
}

// TestPushRerunCompletes fails a push half-way (the blobs are up, the
// manifest is refused), then runs it again: it completes without sending
// the blobs a second time.
func TestPushRerunCompletes(t *testing.T) {
	reg := testenv.Registry(t)
	p := newFaultProxy(t, reg)
	p.add("PUT", "/manifests/", -1, status(http.StatusInternalServerError))
	img, err := random.Image(1<<20, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref := p.addr + "/faults/rerun:1"
	start := time.Now()
	_, err = Push(t.Context(), img, ref, testOptions())
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("push through a refusing registry: %v, want a 500 error", err)
	}
	if took := time.Since(start); took > failBound {
		t.Errorf("gave up after %s", took)
	}
	uploads := len(p.seen("POST", "/blobs/uploads/"))
	p.clear()
	if _, err := Push(t.Context(), img, ref, testOptions()); err != nil {
		t.Fatalf("second push: %v", err)
	}
	if n := len(p.seen("POST", "/blobs/uploads/")) - uploads; n != 0 {
		t.Errorf("the second push uploaded %d blobs again", n)
	}
	back, err := pullAll(t.Context(), reg+"/faults/rerun:1", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, back) != mustDigest(t, img) {
		t.Error("the registry holds another image")
	}
}
