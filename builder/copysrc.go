package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
)

// errNotFound is the error of a source that does not exist (or that the
// ignore file hides), worded as BuildKit words it.
var errNotFound = errors.New("not found")

// srcRoot is a directory COPY reads from: the build context (with its
// ignore file) or the root of a stage or image (COPY --from).
type srcRoot struct {
	dir    string
	ignore *pathFilter
}

// srcItem is one source of a COPY or ADD once wildcards are expanded and a
// named symlink is followed.
type srcItem struct {
	host string      // host path of the (resolved) source
	rel  string      // resolved path below the root, slash-separated; "" is the root
	name string      // the name it takes when copied into a directory
	fi   fs.FileInfo // Lstat of host
	// fixed holds the metadata of content that is not a file of the root
	// (a heredoc, a download); nil for files of the root.
	fixed *fixedFile
	// archive says ADD extracts this file at the destination.
	archive bool
	// ign is the ignore-file state of rel, for walking a directory.
	ign patternmatcher.MatchInfo
}

// cleanRel turns a source path into a path below the root: a leading "/"
// is dropped and ".." cannot climb above the root.
func cleanRel(p string) string {
	return strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(p)), "/")
}

// hasWildcards reports whether p has a wildcard that is not escaped.
func hasWildcards(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*', '?', '[':
			return true
		case '\\':
			i++
		}
	}
	return false
}

// resolve expands one source: a literal path (followed if it is a
// symlink, always inside the root) or a wildcard pattern. A literal path
// that does not exist is an error; a pattern matching nothing gives no
// items, as in BuildKit.
func (r *srcRoot) resolve(src string) ([]srcItem, error) {
	rel := cleanRel(src)
	if !hasWildcards(rel) {
		it, err := r.literal(rel)
		if err != nil {
			return nil, err
		}
		return []srcItem{it}, nil
	}
	parts := strings.Split(rel, "/")
	i := 0
	for i < len(parts) && !hasWildcards(parts[i]) {
		i++
	}
	base := strings.Join(parts[:i], "/")
	baseHost, err := r.join(base)
	if err != nil {
		return nil, err
	}
	baseRel := r.relOf(baseHost)
	var matches []string
	if err := r.glob(baseHost, baseRel, parts[i:], &matches); err != nil {
		return nil, err
	}
	var items []srcItem
	for _, m := range matches {
		it, err := r.literal(m)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return items, nil
}

// join resolves rel inside the root, following symlinks as if the root
// were "/".
func (r *srcRoot) join(rel string) (string, error) {
	p, err := securejoin.SecureJoin(r.dir, rel)
	if err != nil {
		return "", fmt.Errorf("resolving %q: %w", "/"+rel, err)
	}
	return p, nil
}

// relOf returns the path of host below the root.
func (r *srcRoot) relOf(host string) string {
	rel, err := filepath.Rel(r.dir, host)
	if err != nil || rel == "." {
		return ""
	}
	return filepath.ToSlash(rel)
}

// literal resolves a path that has no wildcards.
func (r *srcRoot) literal(rel string) (srcItem, error) {
	notFound := fmt.Errorf("%q: %w", "/"+rel, errNotFound)
	if hidden, err := r.hidden(rel); err != nil || hidden {
		return srcItem{}, errors.Join(notFound, err)
	}
	host, err := r.join(rel)
	if err != nil {
		return srcItem{}, err
	}
	fi, err := os.Lstat(host)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return srcItem{}, notFound
	}
	if err != nil {
		return srcItem{}, fmt.Errorf("reading source %q: %w", "/"+rel, err)
	}
	it := srcItem{host: host, rel: r.relOf(host), name: path.Base("/" + rel), fi: fi}
	if it.name == "/" {
		it.name = "."
	}
	if hidden, err := r.hidden(it.rel); err != nil || hidden {
		return srcItem{}, errors.Join(notFound, err)
	}
	if r.ignore != nil && it.rel != "" {
		_, it.ign, err = r.ignore.excluded(it.rel, patternmatcher.MatchInfo{})
		if err != nil {
			return srcItem{}, err
		}
	}
	return it, nil
}

// hidden reports whether the ignore file hides rel. An excluded directory
// stays visible when a "!" pattern may re-include something inside it.
func (r *srcRoot) hidden(rel string) (bool, error) {
	if r.ignore == nil || rel == "" {
		return false, nil
	}
	ex, _, err := r.ignore.excluded(rel, patternmatcher.MatchInfo{})
	if err != nil || !ex {
		return false, err
	}
	if !r.ignore.mayReinclude(rel) {
		return true, nil
	}
	host, err := r.join(rel)
	if err != nil {
		return false, err
	}
	fi, err := os.Lstat(host)
	return err != nil || !fi.IsDir(), nil
}

// glob appends to out the paths below dir (at rel below the root) that
// match the pattern components, one component per directory level, with
// filepath.Match. Like BuildKit it does not descend through symlinks
// between components; a matching symlink itself is followed later.
func (r *srcRoot) glob(dir, rel string, pattern []string, out *[]string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %q: %w", "/"+rel, err)
	}
	for _, e := range entries {
		ok, err := filepath.Match(pattern[0], e.Name())
		if err != nil {
			return fmt.Errorf("matching %q: %w", pattern[0], err)
		}
		if !ok {
			continue
		}
		child := path.Join(rel, e.Name())
		if hidden, err := r.hidden(child); err != nil || hidden {
			if err != nil {
				return err
			}
			continue
		}
		if len(pattern) == 1 {
			*out = append(*out, child)
			continue
		}
		if e.IsDir() {
			if err := r.glob(filepath.Join(dir, e.Name()), child, pattern[1:], out); err != nil {
				return err
			}
		}
	}
	return nil
}
