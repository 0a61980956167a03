package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/containerd/stargz-snapshotter/estargz"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/ibuild/ibuild/layers"
)

// A stage's steps form a chain of cache keys, as BuildKit's LLB does: only
// the steps that may change the filesystem (RUN, COPY, ADD, WORKDIR) move
// the chain on. Each of them takes into its key the parts of the config it
// depends on (a RUN its environment, user, working directory and shell), so
// that a config instruction before it invalidates it only when it changes
// what the step sees: a new build-arg value invalidates the RUN steps after
// its ARG, not a COPY. Config instructions are replayed on every build (they
// cost nothing); the cache only gives them back the time of their history
// entry, so a fully cached rebuild gives a byte-identical image.
//
// After a step that made a layer the chain is a hash of the chain before it
// and the layer's diff ID: the filesystem's content, not how it was made.
// So a step that ran again (--no-cache-filter, an ADD of a URL, an input
// that changed, such as a bind-mounted file) and made the same layer
// leaves the later steps cached, locally and in a registry cache. A step
// without a layer moves the chain by its key.

// layerStep is a step that may add a layer, as the cache sees it.
type layerStep struct {
	in  *stepInputs
	run func() error
	// onHit makes the config changes the step makes besides its layer and
	// history entry (WORKDIR sets the working directory).
	onHit func()
}

// runCached runs st unless the cache has its result.
func (s *state) runCached(st layerStep) error {
	if st.in.uncacheable != "" {
		return s.runUncacheable(st)
	}
	in := st.in
	in.list = append([]cacheInput{s.parentInput(), s.b.optionsInput()}, in.list...)
	key := in.key("")
	var miss missReason
	if s.b.useCache(s.stage) {
		e, err := s.lookupCached(key)
		if e != nil {
			if st.onHit != nil {
				st.onHit()
			}
			s.cached = true
			s.keepRecord(key, in.list)
			s.exportRecord(key, e)
			s.advance(key, e.Layer, false)
			return nil
		}
		if err != nil {
			miss.broken = err.Error()
		}
	} else {
		miss.noLookup = s.noLookupReason()
	}
	s.explainMiss(key, in.list, miss)
	nl, nh := len(s.layers), len(s.cfg.History)
	if err := st.run(); err != nil {
		return err
	}
	e, err := s.producedEntry(nl, nh)
	if err != nil {
		s.b.warn(fmt.Sprintf("%s: not cached: %v", s.stepText, err))
		s.advance(hashStrings("unstored", key, time.Now().String()), nil, true)
		return nil
	}
	s.storeResult(key, e, in.list)
	s.advance(key, e.Layer, true)
	return nil
}

// runUncacheable runs a step that has no key. The chain after it depends
// on what it made, so if it made the same layer as before the steps after
// it still hit.
func (s *state) runUncacheable(st layerStep) error {
	if s.b.opts.DebugCache {
		s.step.status("cache miss: " + st.in.uncacheable)
	}
	nl, nh := len(s.layers), len(s.cfg.History)
	if err := st.run(); err != nil {
		return err
	}
	key := hashStrings("uncacheable", s.chain, st.in.key(""))
	e, err := s.producedEntry(nl, nh)
	if err != nil {
		s.advance(hashStrings(key, time.Now().String()), nil, true)
		return nil
	}
	s.advance(key, e.Layer, true)
	return nil
}

// runConfigCached runs a config instruction and takes the time of its
// history entry from the cache.
func (s *state) runConfigCached(run func() error) error {
	nh := len(s.cfg.History)
	if err := run(); err != nil {
		return err
	}
	use := s.b.useCache(s.stage)
	if len(s.cfg.History) != nh+1 {
		s.cached = use // nothing recorded (ONBUILD): nothing to build
		return nil
	}
	h := &s.cfg.History[nh]
	in := &stepInputs{}
	in.list = []cacheInput{s.parentInput(), s.b.optionsInput()}
	in.add(inInstruction, "", h.CreatedBy)
	key := in.key("config")
	var miss missReason
	if use {
		if e := s.lookupConfig(key, h); e != nil {
			h.Created = e.History.Created
			s.cached = true
			s.keepRecord(key, in.list)
			s.exportRecord(key, e)
			return nil
		}
	} else {
		miss.noLookup = s.noLookupReason()
	}
	s.explainMiss(key, in.list, miss)
	hc := *h
	s.storeResult(key, &cacheEntry{History: &hc}, in.list)
	return nil
}

// storeResult records a step's result and inputs; a cache that cannot be
// written costs speed, not the build, so it is only a warning.
func (s *state) storeResult(key string, e *cacheEntry, in []cacheInput) {
	s.exportRecord(key, e)
	if err := s.b.cache.put(key, e); err != nil {
		s.b.warn(fmt.Sprintf("build cache: %v", err))
		return
	}
	rec := &stepRecord{Key: key, Step: s.stepText, Inputs: in}
	if err := s.b.cache.putRecord(s.identity(), rec); err != nil {
		s.b.warn(fmt.Sprintf("build cache: %v", err))
	}
}

// keepRecord records the inputs of a step that hit when this step (of this
// context and Dockerfile) has no record yet, so that its next miss can be
// explained.
// TODO: a record that exists is not updated on a hit, so after switching
// back to an earlier version of a file the next miss is explained against
// the later one; rewriting records on hits would cost a write per step.
func (s *state) keepRecord(key string, in []cacheInput) {
	id := s.identity()
	if _, err := os.Stat(s.b.cache.recordPath(id)); err == nil {
		return
	}
	rec := &stepRecord{Key: key, Step: s.stepText, Inputs: in}
	if err := s.b.cache.putRecord(id, rec); err != nil {
		s.b.warn(fmt.Sprintf("build cache: %v", err))
	}
}

func (s *state) parentInput() cacheInput {
	return cacheInput{Kind: inParent, Name: s.chainAbout, Value: s.chain}
}

func (b *build) optionsInput() cacheInput {
	return cacheInput{Kind: inSetting, Name: "build options", Value: b.cache.salt}
}

func (s *state) noLookupReason() string {
	if f := s.b.noCacheFilter(s.stage); f != "" && !s.b.opts.NoCache {
		return "--no-cache-filter " + f
	}
	return "--no-cache"
}

// applyEntry adds a cached result to the stage. A layer whose blob is not
// in the store any more makes the entry unusable.
func (s *state) applyEntry(e *cacheEntry) error {
	if e.History == nil {
		return errors.New("the cache entry is damaged")
	}
	var l v1.Layer
	if e.Layer != nil {
		var err error
		if l, err = s.b.store.Layer(*e.Layer); err != nil {
			return fmt.Errorf("the cached layer %s is missing from the store", e.Layer.Digest)
		}
	}
	s.addEntry(e, l)
	return nil
}

// addEntry adds a cached result whose layer, if it has one, is l.
func (s *state) addEntry(e *cacheEntry, l v1.Layer) {
	if l != nil {
		s.layers = append(s.layers, &layerRef{layer: l})
		s.cfg.RootFS.DiffIDs = append(s.cfg.RootFS.DiffIDs, e.Layer.DiffID)
		s.view = ""
	}
	s.cfg.History = append(s.cfg.History, *e.History)
}

// producedEntry describes what the step that ran made: at most one layer
// and exactly one history entry.
func (s *state) producedEntry(nl, nh int) (*cacheEntry, error) {
	if len(s.cfg.History) != nh+1 || len(s.layers) < nl || len(s.layers) > nl+1 {
		return nil, errors.New("the step made more than one change")
	}
	h := s.cfg.History[nh]
	e := &cacheEntry{History: &h}
	if len(s.layers) == nl+1 {
		d, err := layerDesc(s.layers[nl].layer)
		if err != nil {
			return nil, err
		}
		e.Layer = &d
	}
	return e, nil
}

func layerDesc(l v1.Layer) (layers.Desc, error) {
	var d layers.Desc
	var err error
	if d.Digest, err = l.Digest(); err != nil {
		return d, err
	}
	if d.DiffID, err = l.DiffID(); err != nil {
		return d, err
	}
	if d.Size, err = l.Size(); err != nil {
		return d, err
	}
	// An eStargz layer's descriptor carries its TOC digest; without it a
	// cached rebuild would give another manifest.
	if a := layers.LayerAnnotations(l); a != nil {
		d.TOCDigest = a[estargz.TOCJSONDigestAnnotation]
		d.UncompressedSize, _ = strconv.ParseInt(a[estargz.StoreUncompressedSizeAnnotation], 10, 64)
	}
	d.MediaType, err = l.MediaType()
	return d, err
}

// advance moves the chain past a step with the given key that made layer.
func (s *state) advance(key string, layer *layers.Desc, ran bool) {
	if layer != nil {
		s.chain = hashStrings("chain", s.chain, layer.DiffID.String())
	} else {
		s.chain = hashStrings("chain", key, "-")
	}
	s.chainAbout = s.stepText
	s.parentRebuilt = ran
}

// imageCreated is the creation time of an image: the pinned epoch, or the
// newest history entry, so that a fully cached rebuild gives the same
// config; now when there is no history.
func imageCreated(cfg *v1.ConfigFile, epoch *time.Time) time.Time {
	if epoch != nil {
		return *epoch
	}
	var t time.Time
	for _, h := range cfg.History {
		if h.Created.After(t) {
			t = h.Created.Time
		}
	}
	if t.IsZero() {
		return time.Now().UTC()
	}
	return t.UTC()
}

// dispatchCached runs an expanded instruction through the cache.
func (s *state) dispatchCached(ctx context.Context, cmd instructions.Command) error {
	run := func() error { return s.dispatchInstruction(ctx, cmd) }
	switch c := cmd.(type) {
	case *instructions.RunCommand:
		s.noteCacheMounts(c)
		return s.runCached(layerStep{in: s.runInputs(ctx, c), run: run})
	case *instructions.CopyCommand:
		req := copyFromCopy(c)
		return s.runCached(layerStep{in: s.copyInputs(ctx, &req), run: run})
	case *instructions.AddCommand:
		req := copyFromAdd(c)
		return s.runCached(layerStep{in: s.copyInputs(ctx, &req), run: run})
	case *instructions.WorkdirCommand:
		wd := s.workdirPath(c.Path)
		return s.runCached(layerStep{in: s.workdirInputs(c), run: run,
			onHit: func() { s.cfg.Config.WorkingDir = wd }})
	}
	return s.runConfigCached(run)
}
