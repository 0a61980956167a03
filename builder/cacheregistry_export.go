package builder

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ibuild/ibuild/layers"
	"github.com/ibuild/ibuild/registry"
)

// cacheExport collects, while a build runs, what ExportCache pushes: the
// result of every step by key, and the cache mounts the RUN steps use.
type cacheExport struct {
	to    []RegistryCache
	opts  registry.Options
	store *layers.Store
	root  string
	comp  layers.Compression
	from  *cacheImport
	// final holds the indexes of the stages whose layers the image has:
	// the target and the stages it is built FROM (mode=min).
	final map[int]bool

	mu      sync.Mutex
	records map[string]*exportRecord
	mounts  map[string]bool
}

// exportRecord is one step's result and the layer its record names.
type exportRecord struct {
	rec   cacheRecord
	layer v1.Layer
	final bool
}

// startCacheExport prepares the collection of results for --cache-to.
func (b *build) startCacheExport() {
	if len(b.opts.CacheTo) == 0 {
		return
	}
	x := &cacheExport{to: b.opts.CacheTo, opts: b.opts.Registry, store: b.store,
		root: b.opts.Root, comp: layers.Gzip, from: b.cache.from, final: map[int]bool{},
		records: map[string]*exportRecord{}, mounts: map[string]bool{}}
	if b.opts.Compression == layers.Zstd {
		x.comp = layers.Zstd
	}
	if t, err := b.target(); err == nil {
		for sr := t; sr != nil; sr = sr.parent {
			x.final[sr.index] = true
		}
	}
	b.cache.out = x
}

// exportRecord collects the result e of the step with key, which the
// stage has just applied (its layer, if any, is the stage's last).
func (s *state) exportRecord(key string, e *cacheEntry) {
	x := s.b.cache.out
	if x == nil || e.History == nil {
		return
	}
	r := &exportRecord{rec: cacheRecord{Key: key, Layer: e.Layer, History: e.History},
		final: x.final[s.stage.index]}
	if e.Layer != nil {
		if len(s.layers) == 0 {
			return
		}
		r.layer = s.layers[len(s.layers)-1].layer
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if old, ok := x.records[key]; ok {
		r.final = r.final || old.final
	}
	x.records[key] = r
}

// merge adds the results other collected (another platform's build).
func (x *cacheExport) merge(other *cacheExport) {
	if other == nil || other == x {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for k, r := range other.records {
		if old, ok := x.records[k]; ok {
			r.final = r.final || old.final
		}
		x.records[k] = r
	}
	for id := range other.mounts {
		x.mounts[id] = true
	}
}

// ExportCache pushes the build cache of res to each registry ref of
// Options.CacheTo (--cache-to). pushed names the references the image was
// just pushed to, if any: blobs are mounted from there rather than sent
// again. A failed export for a cache with IgnoreError adds a warning to
// res.Warnings instead of failing.
func ExportCache(ctx context.Context, res *Result, pushed []string) error {
	if res == nil || res.cache == nil {
		return nil
	}
	x := res.cache
	inImage := map[v1.Hash]bool{}
	mountFrom := ""
	if len(pushed) > 0 && res.Image != nil {
		if ls, err := res.Image.Layers(); err == nil {
			mountFrom = pushed[0]
			for _, l := range ls {
				if d, err := l.Digest(); err == nil {
					inImage[d] = true
				}
			}
		}
	}
	var mounts []registry.CacheBlob
	var mrecs []mountRecord
	mountsDone := false
	for _, to := range x.to {
		var err error
		if to.Mode == CacheModeMax && !mountsDone {
			mounts, mrecs, err = x.mountBlobs(ctx)
			mountsDone = err == nil
		}
		if err == nil {
			err = x.push(ctx, to, mounts, mrecs, mountFrom, inImage)
		}
		if err != nil && to.IgnoreError {
			res.Warnings = append(res.Warnings, fmt.Sprintf("--cache-to %s: %v", to.Ref, err))
		} else if err != nil {
			return fmt.Errorf("exporting cache to %s: %w", to.Ref, err)
		}
	}
	return nil
}

// push writes one cache artifact: the records the mode asks for, sorted by
// key so that the same results give the same artifact, and their layers.
func (x *cacheExport) push(ctx context.Context, to RegistryCache, mounts []registry.CacheBlob,
	mrecs []mountRecord, mountFrom string, inImage map[v1.Hash]bool) error {
	x.mu.Lock()
	keys := make([]string, 0, len(x.records))
	for k, r := range x.records {
		if to.Mode == CacheModeMax || r.final {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	cfg := cacheConfig{Version: cacheConfigVersion, Records: []cacheRecord{}}
	var blobs []registry.CacheBlob
	for _, k := range keys {
		r := x.records[k]
		cfg.Records = append(cfg.Records, r.rec)
		if r.layer == nil {
			continue
		}
		b := registry.CacheBlob{Layer: r.layer}
		if inImage[r.rec.Layer.Digest] {
			b.MountFrom = mountFrom
		}
		blobs = append(blobs, b)
	}
	x.mu.Unlock()
	if to.Mode == CacheModeMax {
		cfg.Mounts = mrecs
		blobs = append(blobs, mounts...)
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return err
	}
	_, err = registry.PushCache(ctx, to.Ref, raw, blobs, x.opts)
	return err
}
