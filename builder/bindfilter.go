package builder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
)

// contextView returns a directory showing src, a path inside the build
// context, as the context shows it to the build: without what .dockerignore
// excludes, as BuildKit's context transfer leaves it out. With no ignore
// patterns, or for a single file that is not excluded, it is src itself.
// Otherwise it is a mirror in the store's tmp: hard links to the context's
// files (the mount is read-only), or copies when private is set (a rw
// mount, whose writes must not reach the context).
func (s *state) contextView(src string, private bool) (string, error) {
	filter, err := s.b.context.ignoreMatcher()
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(s.b.opts.ContextDir, src)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("bind source %s is outside the context", src)
	}
	rel = filepath.ToSlash(rel)
	info, excluded, err := parentMatch(filter, rel)
	if err != nil {
		return "", err
	}
	fi, err := os.Lstat(src)
	if err != nil {
		return "", err
	}
	if excluded && !(fi.IsDir() && filter.mayReinclude(rel)) {
		return "", fmt.Errorf("bind source %s: not found (excluded by .dockerignore)", rel)
	}
	if filter == nil && !private {
		return src, nil
	}
	if !fi.IsDir() && !private {
		return src, nil
	}
	dir, err := os.MkdirTemp(filepath.Join(s.b.opts.Root, "tmp"), "bind-")
	if err != nil {
		return "", err
	}
	s.onRelease(func() { _ = os.RemoveAll(dir) })
	if !fi.IsDir() {
		dst := filepath.Join(dir, filepath.Base(src))
		return dst, copyEntry(src, dst, fi)
	}
	mirror := filepath.Join(dir, "view")
	if err := copyEntry(src, mirror, fi); err != nil {
		return "", err
	}
	key := rel
	if rel == "." {
		key = "" // parentOf's name for the root
	}
	m := &mirrorer{filter: filter, private: private, infos: map[string]patternmatcher.MatchInfo{
		key: info}}
	if err := m.walk(src, mirror, rel); err != nil {
		return "", fmt.Errorf("preparing bind source %s: %w", rel, err)
	}
	return mirror, nil
}

// parentMatch computes the ignore-file match state of rel by matching each
// of its parents in turn, and whether rel itself is excluded.
func parentMatch(filter *pathFilter, rel string) (patternmatcher.MatchInfo, bool, error) {
	var info patternmatcher.MatchInfo
	if filter == nil || rel == "." {
		return info, false, nil
	}
	parts := strings.Split(rel, "/")
	excluded := false
	for i := range parts {
		var err error
		excluded, info, err = filter.excluded(strings.Join(parts[:i+1], "/"), info)
		if err != nil {
			return info, false, err
		}
	}
	return info, excluded, nil
}

// mirrorer copies a context subtree without its excluded entries.
type mirrorer struct {
	filter  *pathFilter
	private bool
	infos   map[string]patternmatcher.MatchInfo
}

func (m *mirrorer) walk(src, dst, rel string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		sub, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		r := filepath.ToSlash(filepath.Join(rel, sub))
		if rel == "." {
			r = filepath.ToSlash(sub)
		}
		excluded, info, err := m.filter.excluded(r, m.infos[parentOf(r)])
		if err != nil {
			return err
		}
		if d.IsDir() {
			m.infos[r] = info
		}
		if excluded {
			if d.IsDir() && !m.filter.mayReinclude(r) {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				return nil
			}
		}
		return m.place(p, filepath.Join(dst, sub), d)
	})
}

// place creates the mirror entry of p at dst: a hard link to a file (a copy
// when private or across file systems), the rest as copyEntry makes them.
func (m *mirrorer) place(p, dst string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if fi.Mode().IsRegular() && !m.private {
		if err := os.Link(p, dst); err == nil || !errors.Is(err, os.ErrInvalid) &&
			!isCrossDevice(err) {
			return err
		}
	}
	return copyEntry(p, dst, fi)
}
