package builder

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ibuild/ibuild/layers"
)

// The instruction cache lives under ROOT/cache:
//
//	keys/<2 hex>/<key hex>   what a step produced (cacheEntry, JSON)
//	steps/<identity hex>     the inputs of the last build of a step, to say why it missed
//	stat/<context id>        sha256 of context files by their stat data
//	resolved/<ref id>        the manifest digest a base image tag resolved to
//
// Every file is written to ROOT/tmp and renamed into place, so concurrent
// builds never read a partial file; when two builds write the same name the
// last rename wins, and either content is valid.
//
// TODO: nothing removes old entries yet; an entry whose layer blob was
// pruned is a miss (and is replaced), but keys/ and steps/ only grow.

// cacheEntry is what a step produced: the layer it added, if any, and its
// history entry (with the time it was first built, so a cached rebuild
// gives the same config).
type cacheEntry struct {
	Layer   *layers.Desc `json:"layer,omitempty"`
	History *v1.History  `json:"history,omitempty"`
}

// buildCache is the instruction cache of one build.
type buildCache struct {
	dir string // ROOT/cache
	tmp string // ROOT/tmp
	// salt goes into every key: the options that change every step's result.
	salt  string
	stats *statCache
	// from and out are the registry caches of --cache-from and --cache-to
	// (cacheregistry*.go); nil without them.
	from *cacheImport
	out  *cacheExport
}

func newBuildCache(opts Options) *buildCache {
	dir := filepath.Join(opts.Root, "cache")
	salt := "v1 compression=" + string(opts.Compression)
	if opts.Epoch != nil {
		salt += " epoch=" + strconv.FormatInt(opts.Epoch.Unix(), 10)
	}
	return &buildCache{dir: dir, tmp: filepath.Join(opts.Root, "tmp"), salt: salt,
		stats: newStatCache(dir, opts.ContextDir)}
}

func (c *buildCache) keyPath(key string) string {
	return filepath.Join(c.dir, "keys", key[:2], key)
}

// get returns the entry stored under key, or nil.
func (c *buildCache) get(key string) *cacheEntry {
	b, err := os.ReadFile(c.keyPath(key))
	if err != nil {
		return nil
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil {
		return nil
	}
	return &e
}

// put stores e under key.
func (c *buildCache) put(key string, e *cacheEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return c.writeFile(c.keyPath(key), b)
}

// writeFile writes data to a temp file and renames it to path.
func (c *buildCache) writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing cache file %s: %w", path, err)
	}
	f, err := os.CreateTemp(c.tmp, "cache-*")
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(c.tmp, 0o700); err == nil {
			f, err = os.CreateTemp(c.tmp, "cache-*")
		}
	}
	if err != nil {
		return fmt.Errorf("writing cache file %s: %w", path, err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing cache file %s: %w", path, err)
	}
	return nil
}

// cacheInput is one input of a step's key. Kind orders the inputs when a
// miss is explained (see inputKinds); Name says which input it is.
type cacheInput struct {
	Kind  string `json:"k"`
	Name  string `json:"n,omitempty"`
	Value string `json:"v"`
}

// The kinds of cache inputs, in the order a miss names them.
const (
	inParent      = "parent"
	inInstruction = "instruction"
	inArg         = "arg"
	inEnv         = "env"
	inSetting     = "setting"
	inFrom        = "from"
	inMount       = "mount"
	inFile        = "file"
)

var inputKinds = []string{inParent, inInstruction, inArg, inEnv, inSetting, inFrom, inMount,
	inFile}

// stepInputs are the inputs of a step's key. A step that cannot be cached
// (an ADD of a URL without a checksum) says why in uncacheable.
type stepInputs struct {
	list        []cacheInput
	uncacheable string
}

func (in *stepInputs) add(kind, name, value string) {
	in.list = append(in.list, cacheInput{Kind: kind, Name: name, Value: value})
}

// key is the sha256 over every input, each field length-prefixed so that
// no two lists give the same bytes.
func (in *stepInputs) key(salt string) string {
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.LittleEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field(salt)
	for _, i := range in.list {
		field(i.Kind)
		field(i.Name)
		field(i.Value)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hashStrings is a sha256 over length-prefixed strings, in hex.
func hashStrings(parts ...string) string {
	in := stepInputs{}
	for _, p := range parts {
		in.add("", "", p)
	}
	return in.key("")
}

// useCache reports whether steps of sr may be looked up in the cache:
// not with --no-cache, nor for a stage --no-cache-filter names.
func (b *build) useCache(sr *stageRun) bool {
	if b.opts.NoCache {
		return false
	}
	return b.noCacheFilter(sr) == ""
}

// noCacheFilter returns the --no-cache-filter value that names sr, or "".
func (b *build) noCacheFilter(sr *stageRun) string {
	for _, f := range b.opts.NoCacheFilter {
		if (sr.name != "" && strings.EqualFold(f, sr.name)) || f == strconv.Itoa(sr.index) {
			return f
		}
	}
	return ""
}

// saveStats writes the stat cache at the end of a build.
func (c *buildCache) saveStats(b *build) {
	if err := c.stats.save(c.writeFile); err != nil {
		b.warn(fmt.Sprintf("build cache: %v", err))
	}
}
