package builder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// buildContext is the build context directory with its .dockerignore.
// Files the ignore file excludes are invisible to COPY and ADD, exactly as
// if BuildKit's client had not sent them. The Dockerfile and the ignore
// file themselves are read by the builder directly and so are never
// affected by it.
type buildContext struct {
	dir string
	// ignoreFiles are the candidate ignore files, most specific first.
	ignoreFiles []string

	once     sync.Once
	patterns []string
	err      error
}

// newBuildContext returns the context at contextDir. The ignore file is
// <Dockerfile name>.dockerignore beside the Dockerfile when that exists
// (only for a Dockerfile read from disk), else .dockerignore at the root
// of the context. It is read on first use.
func newBuildContext(contextDir, dockerfilePath, _ string) *buildContext {
	c := &buildContext{dir: contextDir}
	if dockerfilePath != "" {
		c.ignoreFiles = append(c.ignoreFiles, dockerfilePath+".dockerignore")
	}
	if contextDir != "" {
		c.ignoreFiles = append(c.ignoreFiles, filepath.Join(contextDir, ".dockerignore"))
	}
	return c
}

// ignorePatterns returns the patterns of the ignore file, read once.
func (c *buildContext) ignorePatterns() ([]string, error) {
	c.once.Do(func() {
		for _, f := range c.ignoreFiles {
			pats, err := readIgnoreFile(f)
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			c.patterns, c.err = pats, err
			return
		}
	})
	return c.patterns, c.err
}

// readIgnoreFile reads the ignore file name, resolving a symlink there as
// if its directory were the root: the context is untrusted, and an ignore
// file linked to a host file would put that file's lines in errors.
func readIgnoreFile(name string) ([]string, error) {
	safe, err := securejoin.SecureJoin(filepath.Dir(name), filepath.Base(name))
	if err != nil {
		return nil, err
	}
	f, err := os.Open(safe)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pats, err := ignorefile.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return pats, nil
}

// ignoreMatcher returns a new matcher for the ignore file, or nil when
// there is none. A PatternMatcher compiles its patterns lazily and is not
// safe for concurrent use, so every walk gets its own.
func (c *buildContext) ignoreMatcher() (*pathFilter, error) {
	pats, err := c.ignorePatterns()
	if err != nil || len(pats) == 0 {
		return nil, err
	}
	return newPathFilter(pats, true)
}

// pathFilter excludes paths by Docker's ignore-file rules: patterns in
// order, the last match wins, "!" re-includes, a path is excluded when it
// or a parent directory is.
type pathFilter struct {
	pm *patternmatcher.PatternMatcher
	// prune lets a walk skip an excluded directory when no "!" pattern
	// can re-include anything below it (BuildKit's client does the same).
	prune bool
	// prefixOnly says every "!" pattern is a plain path, so whether one
	// can match below a directory is a prefix test.
	prefixOnly bool
}

func newPathFilter(patterns []string, prune bool) (*pathFilter, error) {
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("parsing patterns %q: %w", patterns, err)
	}
	f := &pathFilter{pm: pm, prune: prune, prefixOnly: true}
	for _, p := range pm.Patterns() {
		if p.Exclusion() && strings.ContainsAny(trimTrailingGlob(p.String()), `*[]?^\`) {
			f.prefixOnly = false
		}
	}
	return f, nil
}

// excluded reports whether rel (slash-separated, relative to the filter's
// root) is excluded, given the match state of its parent directory; the
// zero matchState makes it check the parents itself.
func (f *pathFilter) excluded(rel string, parent patternmatcher.MatchInfo) (bool,
	patternmatcher.MatchInfo, error) {
	if f == nil {
		return false, patternmatcher.MatchInfo{}, nil
	}
	m, info, err := f.pm.MatchesUsingParentResults(rel, parent)
	if err != nil {
		return false, info, fmt.Errorf("matching %s: %w", rel, err)
	}
	return m, info, nil
}

// mayReinclude reports whether a "!" pattern may re-include something
// below the excluded directory dir, so that a walk has to look inside.
func (f *pathFilter) mayReinclude(dir string) bool {
	switch {
	case !f.prune:
		return true
	case !f.pm.Exclusions():
		return false
	case !f.prefixOnly:
		return true
	}
	for _, p := range f.pm.Patterns() {
		if p.Exclusion() && strings.HasPrefix(trimTrailingGlob(p.String())+"/", dir+"/") {
			return true
		}
	}
	return false
}

func trimTrailingGlob(s string) string {
	s = strings.TrimSuffix(s, "/**")
	return strings.TrimSuffix(s, "/*")
}
