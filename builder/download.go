package builder

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ibuild/ibuild/layers"
)

// withDownloadProgress returns l so that reading it reports on step: the
// compressed bytes read so far against the layer's size, at most ten times
// a second and once at the end. With no step it returns l.
func withDownloadProgress(l v1.Layer, step *stepReport, store *layers.Store) v1.Layer {
	if step == nil {
		return l
	}
	if d, err := l.Digest(); err == nil && store != nil {
		if _, err := os.Stat(store.BlobPath(d)); err == nil {
			return l // read from the store: nothing to download or keep
		}
	}
	pl, err := partial.CompressedToLayer(&countedLayer{Layer: l, step: step, store: store})
	if err != nil {
		return l
	}
	return pl
}

// countedLayer is a compressed layer whose reads are counted.
type countedLayer struct {
	v1.Layer
	step *stepReport
	// store keeps a downloaded layer's blob, so that storing the image
	// later does not fetch it again.
	store *layers.Store
}

func (c *countedLayer) MediaType() (types.MediaType, error) { return c.Layer.MediaType() }

func (c *countedLayer) Compressed() (io.ReadCloser, error) {
	rc, err := c.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	d, _ := c.Layer.Digest()
	size, _ := c.Layer.Size()
	cr := &countingReader{rc: rc, step: c.step, id: d.String(), total: size}
	if c.store != nil {
		if _, err := os.Stat(c.store.BlobPath(d)); err != nil {
			cr.keep = newBlobKeeper(c.store, d)
		}
	}
	return cr, nil
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
	keep *blobKeeper
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n += int64(n)
	r.keep.write(p[:n])
	if err == io.EOF && !r.done {
		r.done = true
		r.keep.finish()
		r.step.progress(r.id, "extracting "+short(r.id)+" done", r.n, r.total)
	} else if time.Since(r.last) > 100*time.Millisecond {
		r.last = time.Now()
		r.step.progress(r.id, "downloading "+short(r.id), r.n, r.total)
	}
	return n, err
}

func (r *countingReader) Close() error {
	r.mu.Lock()
	r.keep.abandon()
	r.mu.Unlock()
	return r.rc.Close()
}

// blobKeeper writes a download to a temporary file beside the blob's place
// and renames it there when the whole blob has the expected digest.
type blobKeeper struct {
	path string
	want v1.Hash
	f    *os.File
	h    hash.Hash
}

func newBlobKeeper(store *layers.Store, want v1.Hash) *blobKeeper {
	f, err := os.CreateTemp(filepath.Join(store.Root, "tmp"), "download-*")
	if err != nil {
		return nil // keeping the blob is an optimisation only
	}
	return &blobKeeper{path: store.BlobPath(want), want: want, f: f, h: sha256.New()}
}

func (k *blobKeeper) write(p []byte) {
	if k == nil || k.f == nil {
		return
	}
	if _, err := k.f.Write(p); err != nil {
		k.abandon()
		return
	}
	k.h.Write(p)
}

func (k *blobKeeper) finish() {
	if k == nil || k.f == nil {
		return
	}
	name := k.f.Name()
	ok := k.f.Chmod(0o644) == nil && k.f.Close() == nil &&
		hex.EncodeToString(k.h.Sum(nil)) == k.want.Hex
	k.f = nil
	if !ok || os.Rename(name, k.path) != nil {
		os.Remove(name)
	}
}

func (k *blobKeeper) abandon() {
	if k == nil || k.f == nil {
		return
	}
	k.f.Close()
	os.Remove(k.f.Name())
	k.f = nil
}

// short is the first 12 hex digits of a digest, as Docker shows them.
func short(digest string) string {
	if len(digest) > 19 {
		return digest[7:19]
	}
	return digest
}
