package builder

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// treeDigest collects the entries a COPY would write, for its cache key:
// a copier with a treeDigest walks the sources exactly as the copy does
// (ignore file, --exclude, wildcards, --parents, hard links, --chmod) but
// records each entry instead of writing it. Modification times are left
// out, as BuildKit leaves them out of its content checksums: touching a
// file does not invalidate the step.
type treeDigest struct {
	root  string // host directory the display names are relative to
	stats *statCache
	recs  []treeRecord
}

// treeRecord is one entry: its header (without times) and, for a regular
// file with content, the host file whose sha256 is the content digest.
type treeRecord struct {
	hdr  tar.Header
	host string
	st   *syscall.Stat_t
	sum  string
}

func newTreeDigest(root string, stats *statCache) *treeDigest {
	return &treeDigest{root: root, stats: stats}
}

// add records the entry hdr; host is the file its content comes from, ""
// for a directory the copy makes.
func (t *treeDigest) add(hdr *tar.Header, host string, st *syscall.Stat_t) {
	r := treeRecord{hdr: *hdr, host: host, st: st, sum: "-"}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 && host != "" {
		r.sum = "" // hashed later, maybe in parallel
	}
	t.recs = append(t.recs, r)
}

// addData records a file whose content is data (a heredoc).
func (t *treeDigest) addData(hdr *tar.Header, data []byte) {
	sum := sha256.Sum256(data)
	t.recs = append(t.recs, treeRecord{hdr: *hdr, sum: hex.EncodeToString(sum[:])})
}

// inputs hashes the content of the recorded files (the stat cache spares
// the unchanged ones; the rest are read by up to one worker per CPU) and
// returns one input per entry, named by its path in the context (or, for
// an entry the copy makes, its path in the image).
func (t *treeDigest) inputs(ctx context.Context) ([]cacheInput, error) {
	var todo []int
	for i := range t.recs {
		r := &t.recs[i]
		if r.sum != "" {
			continue
		}
		if sum, ok := t.stats.lookup(r.host, r.st); ok {
			r.sum = sum
			continue
		}
		todo = append(todo, i)
	}
	if err := t.hashFiles(ctx, todo); err != nil {
		return nil, err
	}
	out := make([]cacheInput, 0, len(t.recs))
	for i := range t.recs {
		out = append(out, t.recs[i].input(t.root))
	}
	return out, nil
}

// hashFiles computes the content digest of the records at the indexes todo.
func (t *treeDigest) hashFiles(ctx context.Context, todo []int) error {
	workers := min(runtime.NumCPU(), len(todo))
	if workers == 0 {
		return nil
	}
	next := make(chan int)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if errs[w] != nil {
					continue
				}
				r := &t.recs[i]
				r.sum, errs[w] = fileSHA256(r.host)
				if errs[w] == nil {
					t.stats.store(r.host, r.st, r.sum)
				}
			}
		}()
	}
	for _, i := range todo {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

func fileSHA256(p string) (string, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", fmt.Errorf("hashing %s: %w", p, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// input is the cache input of one entry. Its value covers what the copy
// writes: name in the image, type, mode, owner, link target, device
// numbers, xattrs and content, never the time.
func (r *treeRecord) input(root string) cacheInput {
	h := &r.hdr
	var b strings.Builder
	for _, s := range []string{h.Name, string(h.Typeflag), strconv.FormatInt(h.Mode, 8),
		strconv.Itoa(h.Uid), strconv.Itoa(h.Gid), h.Linkname,
		strconv.FormatInt(h.Devmajor, 10), strconv.FormatInt(h.Devminor, 10),
		strconv.FormatInt(h.Size, 10), r.sum} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	keys := make([]string, 0, len(h.PAXRecords))
	for k := range h.PAXRecords {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + "=" + h.PAXRecords[k])
		b.WriteByte(0)
	}
	return cacheInput{Kind: inFile, Name: r.displayName(root), Value: hashStrings(b.String())}
}

func (r *treeRecord) displayName(root string) string {
	if r.host == "" {
		return "/" + strings.TrimSuffix(r.hdr.Name, "/")
	}
	rel, err := filepath.Rel(root, r.host)
	if err != nil || strings.HasPrefix(rel, "..") {
		return r.host
	}
	return filepath.ToSlash(rel)
}

// digestSources returns the inputs of the entries c would write copying
// srcs from src to destPath. The image the copy goes into is not looked at
// (its content is part of the parent key): the walk runs as for --link.
func (s *state) digestSources(ctx context.Context, src *srcRoot, srcs []string,
	destPath string, slash bool, c *copier) ([]cacheInput, error) {
	c.dirs, c.links = map[string]bool{}, map[fileKey]string{}
	c.sum = newTreeDigest(src.dir, s.b.cache.stats)
	dest, err := resolveDest("", destPath, slash)
	if err != nil {
		return nil, err
	}
	for _, p := range srcs {
		items, err := src.resolve(p)
		if err != nil {
			return nil, err
		}
		for i := range items {
			if err := c.copyItem(ctx, &items[i], &dest, nil); err != nil {
				return nil, err
			}
		}
	}
	return c.sum.inputs(ctx)
}

// digestParents is digestSources for COPY --parents.
func (s *state) digestParents(ctx context.Context, src *srcRoot, srcs []string,
	destPath string, slash bool, c *copier) ([]cacheInput, error) {
	c.dirs, c.links = map[string]bool{}, map[fileKey]string{}
	c.sum = newTreeDigest(src.dir, s.b.cache.stats)
	dest, err := resolveDest("", destPath, slash)
	if err != nil {
		return nil, err
	}
	if err := c.copyParents(ctx, src, srcs, &dest); err != nil {
		return nil, err
	}
	return c.sum.inputs(ctx)
}
