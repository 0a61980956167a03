package builder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
)

// copyParents runs COPY --parents: each source keeps its path below the
// context root, or below the "/./" pivot when the source has one
// ("a/./b/c" copies b/c). Entries matched are copied as they are (a
// symlink stays a symlink); the directories on the way are copied with
// their own metadata, and only when something below them is.
func (c *copier) copyParents(ctx context.Context, r *srcRoot, srcs []string,
	d *destination) error {
	if d.exists && d.isFile {
		return fmt.Errorf("cannot copy to non-directory: /%s", d.rel)
	}
	if err := c.ensureDir(d.rel, time.Time{}); err != nil {
		return err
	}
	for _, src := range srcs {
		base, pattern, ok := strings.Cut(src, "/./")
		if !ok {
			base, pattern = "/", src
		}
		// TODO: BuildKit matches --parents patterns with patternmatcher, so
		// "**" and wildcards before the pivot work there; here they fail.
		if hasWildcards(base) || strings.Contains(pattern, "**") {
			return fmt.Errorf("COPY --parents %s: wildcards before the pivot and ** are "+
				"not supported yet", src)
		}
		baseHost, err := r.join(cleanRel(base))
		if err != nil {
			return err
		}
		matches, err := r.parentsMatches(baseHost, cleanRel(pattern))
		if err != nil {
			return err
		}
		for _, m := range matches {
			if err := c.copyWithParents(ctx, r, baseHost, m, d.rel); err != nil {
				return err
			}
		}
	}
	return nil
}

// parentsMatches returns the paths below base (relative to it) that
// pattern names; a literal path must exist.
func (r *srcRoot) parentsMatches(baseHost, pattern string) ([]string, error) {
	baseRel := r.relOf(baseHost)
	if !hasWildcards(pattern) {
		rel := path.Join(baseRel, pattern)
		notFound := fmt.Errorf("%q: %w", "/"+rel, errNotFound)
		if hidden, err := r.hidden(rel); err != nil || hidden {
			return nil, errors.Join(notFound, err)
		}
		if _, err := os.Lstat(filepath.Join(baseHost, pattern)); err != nil {
			return nil, notFound
		}
		return []string{pattern}, nil
	}
	var found []string
	if err := r.glob(baseHost, baseRel, strings.Split(pattern, "/"), &found); err != nil {
		return nil, err
	}
	for i, f := range found {
		found[i] = strings.TrimPrefix(strings.TrimPrefix(f, baseRel), "/")
	}
	return found, nil
}

// copyWithParents copies base/m to dest/m, the directories between base
// and m included.
func (c *copier) copyWithParents(ctx context.Context, r *srcRoot, baseHost, m,
	dest string) error {
	baseRel := r.relOf(baseHost)
	c.pending = c.pending[:0]
	parts := strings.Split(m, "/")
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		name := path.Join(dest, p)
		if c.dirs[name] {
			continue
		}
		host := filepath.Join(baseHost, p)
		fi, err := os.Lstat(host)
		if err != nil {
			return fmt.Errorf("reading %q: %w", "/"+path.Join(baseRel, p), err)
		}
		c.pending = append(c.pending, pendingDir{host: host, fi: fi, name: name})
	}
	var zero patternmatcher.MatchInfo
	err := c.visit(ctx, filepath.Join(baseHost, m), path.Join(baseRel, m), m,
		path.Join(dest, m), zero, zero)
	c.pending = c.pending[:0]
	return err
}
