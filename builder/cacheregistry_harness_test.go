package builder

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Each runner of these tests has a store and a context of its own, as two
// CI machines that share nothing but the registry (busyboxMirror, which
// also serves the base image).

// cacheRunner is one machine: its store, its build context, and a count
// of the registry requests its builds make.
type cacheRunner struct {
	t    *testing.T
	root string
	dir  string
	reqs *requestLog
}

func newCacheRunner(t *testing.T, files []ctxFile) *cacheRunner {
	r := &cacheRunner{t: t, root: t.TempDir(), dir: t.TempDir(), reqs: &requestLog{}}
	writeContext(t, r.dir, files)
	return r
}

// build runs Build (nothing is exported) and returns the result and the
// instruction steps, the FROM step left out.
func (r *cacheRunner) build(dockerfile string, tweak func(*Options)) (*Result, []cachedStep) {
	r.t.Helper()
	rec := &stepRecorder{byNum: map[int]int{}}
	opts := Options{ContextDir: r.dir, Dockerfile: []byte(dockerfile), Root: r.root,
		Progress: rec.event}
	withBusybox(r.t, nil)(&opts)
	opts.Registry.Transport = r.reqs
	if tweak != nil {
		tweak(&opts)
	}
	res, err := Build(context.Background(), opts)
	if err != nil {
		r.t.Fatalf("build in %s: %v", r.root, err)
	}
	var out []cachedStep
	for _, s := range rec.steps {
		if !strings.Contains(s.name, "] FROM ") {
			out = append(out, s)
		}
	}
	return res, out
}

// requestLog is an http.RoundTripper that records the blob requests.
type requestLog struct {
	mu sync.Mutex
	// gets counts GETs of blobs by digest; patches counts blob data sent;
	// mounts counts cross-repository mounts the registry made.
	gets    map[string]int
	patches int
	mounts  int
}

func (l *requestLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	l.mu.Lock()
	defer l.mu.Unlock()
	p := req.URL.Path
	switch {
	case req.Method == http.MethodGet && strings.Contains(p, "/blobs/sha256:"):
		if l.gets == nil {
			l.gets = map[string]int{}
		}
		l.gets[p[strings.LastIndex(p, "/")+1:]]++
	case req.Method == http.MethodPatch && strings.Contains(p, "/blobs/uploads/"):
		l.patches++
	case req.Method == http.MethodPost && req.URL.Query().Get("mount") != "" && err == nil &&
		resp.StatusCode == http.StatusCreated:
		l.mounts++
	}
	return resp, err
}

func (l *requestLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gets, l.patches, l.mounts = nil, 0, 0
}

// cacheRef is a cache reference in the test registry, unique to the test.
func cacheRef(t *testing.T, tag string) string {
	name := strings.ToLower(strings.NewReplacer("/", "-", " ", "-", "_", "-").Replace(t.Name()))
	return busyboxMirror(t) + "/cache/" + name + ":" + tag
}

func cacheTo(ref, mode string) func(*Options) {
	return func(o *Options) { o.CacheTo = []RegistryCache{{Ref: ref, Mode: mode}} }
}

func cacheFrom(refs ...string) func(*Options) {
	return func(o *Options) {
		for _, r := range refs {
			o.CacheFrom = append(o.CacheFrom, RegistryCache{Ref: r})
		}
	}
}

func both(fs ...func(*Options)) func(*Options) {
	return func(o *Options) {
		for _, f := range fs {
			f(o)
		}
	}
}

func exportCache(t *testing.T, res *Result, pushed ...string) {
	t.Helper()
	if err := ExportCache(context.Background(), res, pushed); err != nil {
		t.Fatalf("exporting the cache: %v", err)
	}
}

func imageDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func readFileOr(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b)
}

// cacheMountDir is where a runner keeps the cache mount id.
func (r *cacheRunner) cacheMountDir(id string) string {
	return filepath.Join(r.root, "cache-mounts", cacheMountName(id))
}
