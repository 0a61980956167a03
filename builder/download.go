package builder

import (
	"io"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// withDownloadProgress returns l so that reading it reports on step: the
// compressed bytes read so far against the layer's size, at most ten times
// a second and once at the end. With no step it returns l.
func withDownloadProgress(l v1.Layer, step *stepReport) v1.Layer {
	if step == nil {
		return l
	}
	pl, err := partial.CompressedToLayer(&countedLayer{Layer: l, step: step})
	if err != nil {
		return l
	}
	return pl
}

// countedLayer is a compressed layer whose reads are counted.
type countedLayer struct {
	v1.Layer
	step *stepReport
}

func (c *countedLayer) MediaType() (types.MediaType, error) { return c.Layer.MediaType() }

func (c *countedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := c.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	d, _ := c.Layer.Digest()
	size, _ := c.Layer.Size()
	return &countingReader{rc: rc, step: c.step, id: d.String(), total: size}, nil
}

// countingReader reports how much of a download has been read.
type countingReader struct {
	rc    io.ReadCloser
	step  *stepReport
	id    string
	total int64

	mu   sync.Mutex
	n    int64
	last time.Time
	done bool
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n += int64(n)
	if err == io.EOF && !r.done {
		r.done = true
		r.step.progress(r.id, "extracting "+short(r.id)+" done", r.n, r.total)
	} else if time.Since(r.last) > 100*time.Millisecond {
		r.last = time.Now()
		r.step.progress(r.id, "downloading "+short(r.id), r.n, r.total)
	}
	return n, err
}

func (r *countingReader) Close() error { return r.rc.Close() }

// short is the first 12 hex digits of a digest, as Docker shows them.
func short(digest string) string {
	if len(digest) > 19 {
		return digest[7:19]
	}
	return digest
}
