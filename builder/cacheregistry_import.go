package builder

import (
	"fmt"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ibuild/ibuild/layers"
	"github.com/ibuild/ibuild/registry"
)

// cacheImport holds the registry caches --cache-from names. They are read
// once, in the background from the start of the build; the first lookup
// waits for them.
type cacheImport struct {
	load func() []*importedCache

	// claimed holds the cache mount directories restored in this build.
	mu      sync.Mutex
	claimed map[string]bool
}

// importedCache is one cache artifact read from a registry.
type importedCache struct {
	ref     string
	art     *registry.CacheArtifact
	records map[string]cacheRecord
	mounts  map[string]layers.Desc
}

// startCacheImport starts reading the --cache-from artifacts. One that is
// missing or unreadable is a warning: the build goes on without it.
func (b *build) startCacheImport() {
	if len(b.opts.CacheFrom) == 0 {
		return
	}
	imp := &cacheImport{}
	imp.load = sync.OnceValue(func() []*importedCache {
		var out []*importedCache
		for _, c := range b.opts.CacheFrom {
			ic, err := b.importCache(c.Ref)
			if err != nil {
				b.warn(fmt.Sprintf("--cache-from %s: %v; building without it", c.Ref, err))
				continue
			}
			out = append(out, ic)
		}
		return out
	})
	b.cache.from = imp
	go imp.load()
}

func (b *build) importCache(ref string) (*importedCache, error) {
	art, err := registry.PullCache(b.outer, ref, b.opts.Registry)
	if err != nil {
		return nil, err
	}
	cfg, err := parseCacheConfig(art.Config, art.Layers)
	if err != nil {
		return nil, err
	}
	ic := &importedCache{ref: ref, art: art, records: map[string]cacheRecord{},
		mounts: map[string]layers.Desc{}}
	for _, r := range cfg.Records {
		ic.records[r.Key] = r
	}
	for _, m := range cfg.Mounts {
		ic.mounts[m.ID] = m.Layer
	}
	return ic, nil
}

// caches returns the artifacts read, waiting for them; none when there is
// no --cache-from.
func (c *cacheImport) caches() []*importedCache {
	if c == nil {
		return nil
	}
	return c.load()
}

// lookup returns the first record of key in the artifacts, in the order
// --cache-from gave them.
func (c *cacheImport) lookup(key string) (cacheRecord, *importedCache) {
	for _, ic := range c.caches() {
		if r, ok := ic.records[key]; ok {
			return r, ic
		}
	}
	return cacheRecord{}, nil
}

// mount returns the content of the cache mount id in the artifacts.
func (c *cacheImport) mount(id string) (layers.Desc, *importedCache) {
	for _, ic := range c.caches() {
		if d, ok := ic.mounts[id]; ok {
			return d, ic
		}
	}
	return layers.Desc{}, nil
}

// applyImported applies the registry cache's result for key, if it has
// one, and keeps it in the local cache too.
//
// TODO: a record's diff ID is trusted until something unpacks the layer
// (which checks it), so a damaged cache can give an export whose config
// does not match a layer; checking it would download every hit.
func (s *state) applyImported(key string) *cacheEntry {
	r, ic := s.b.cache.from.lookup(key)
	if ic == nil {
		return nil
	}
	h := *r.History
	e := &cacheEntry{Layer: r.Layer, History: &h}
	var l v1.Layer
	if r.Layer != nil {
		var err error
		if l, err = importedLayer(s.b.store, ic, *r.Layer); err != nil {
			s.b.warn(fmt.Sprintf("--cache-from %s: %v", ic.ref, err))
			return nil
		}
	}
	s.addEntry(e, l)
	if err := s.b.cache.put(key, e); err != nil {
		s.b.warn(fmt.Sprintf("build cache: %v", err))
	}
	if s.b.opts.DebugCache {
		s.step.status("cache hit in " + ic.ref)
	}
	return e
}

// lookupCached applies the result cached under key to the stage: from the
// local cache, or when that has none (or its layer left the store) from a
// registry cache. The error says why a local entry could not be used.
func (s *state) lookupCached(key string) (*cacheEntry, error) {
	var broken error
	if e := s.b.cache.get(key); e != nil {
		if broken = s.applyEntry(e); broken == nil {
			return e, nil
		}
	}
	if e := s.applyImported(key); e != nil {
		return e, nil
	}
	return nil, broken
}

// lookupConfig returns the cached result of the config instruction whose
// history entry is h: from the local cache, else from a registry cache
// (and then kept locally too).
func (s *state) lookupConfig(key string, h *v1.History) *cacheEntry {
	same := func(o *v1.History) bool {
		return o != nil && o.CreatedBy == h.CreatedBy && o.EmptyLayer == h.EmptyLayer
	}
	if e := s.b.cache.get(key); e != nil && same(e.History) {
		return e
	}
	r, ic := s.b.cache.from.lookup(key)
	if ic == nil || r.Layer != nil || !same(r.History) {
		return nil
	}
	hc := *r.History
	e := &cacheEntry{History: &hc}
	if err := s.b.cache.put(key, e); err != nil {
		s.b.warn(fmt.Sprintf("build cache: %v", err))
	}
	return e
}
