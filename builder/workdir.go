package builder

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// dispatchWorkdir sets the working directory and, as Docker does, creates it
// (owned by the current USER) when the image does not have it yet.
func (s *state) dispatchWorkdir(ctx context.Context, c *instructions.WorkdirCommand) error {
	wd := s.workdirPath(c.Path)
	s.cfg.Config.WorkingDir = wd
	if wd == "/" {
		s.history("WORKDIR "+wd, false)
		return nil
	}
	missing, err := s.missingDirs(ctx, wd)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		s.history("WORKDIR "+wd, false)
		return nil
	}
	usr := owner{}
	if u := s.cfg.Config.User; u != "" {
		if usr, err = s.lookupOwner(ctx, u); err != nil {
			return err
		}
	}
	mtime := s.created
	if s.b.opts.Epoch != nil {
		mtime = *s.b.opts.Epoch
	}
	parents, err := s.existingParents(ctx, missing[0])
	if err != nil {
		return err
	}
	return s.commitLayer(ctx, "WORKDIR "+wd, func(tw *tar.Writer) error {
		for _, h := range parents {
			if s.b.opts.Epoch != nil {
				h.ModTime = mtime
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		}
		for _, d := range missing {
			h := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755,
				Uid: usr.uid, Gid: usr.gid, ModTime: mtime, Format: tar.FormatPAX}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
		}
		return nil
	})
}

// existingParents returns tar headers, with their owner, mode and time, for
// the directories above first (a relative path) that the image has. They go
// into the WORKDIR layer before the new directories, as in Docker's layer:
// without them, unpacking the layer on its own would make them root-owned
// 0755 directories that hide the image's (an overlay upper directory's
// attributes win).
func (s *state) existingParents(ctx context.Context, first string) ([]*tar.Header, error) {
	dir := path.Dir(first)
	if dir == "." || len(s.layers) == 0 {
		return nil, nil
	}
	root, err := s.rootfs(ctx)
	if err != nil {
		return nil, err
	}
	var out []*tar.Header
	for _, p := range prefixes(dir) {
		fi, err := os.Lstat(filepath.Join(root, p))
		if err != nil {
			return nil, fmt.Errorf("WORKDIR: reading /%s: %w", p, err)
		}
		h, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return nil, fmt.Errorf("WORKDIR: reading /%s: %w", p, err)
		}
		h.Name, h.Uname, h.Gname, h.Format = p+"/", "", "", tar.FormatPAX
		h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
		out = append(out, h)
	}
	return out, nil
}

// missingDirs returns the components of dir (relative, shortest first) that
// do not exist in the stage's filesystem. Symlinks on the way are followed
// inside the image root; the first missing component and all below it are
// returned as resolved paths.
func (s *state) missingDirs(ctx context.Context, dir string) ([]string, error) {
	if len(s.layers) == 0 {
		return prefixes(strings.Trim(dir, "/")), nil
	}
	root, err := s.rootfs(ctx)
	if err != nil {
		return nil, err
	}
	full, err := securejoin.SecureJoin(root, dir)
	if err != nil {
		return nil, fmt.Errorf("resolving %s in the image: %w", dir, err)
	}
	rel := strings.Trim(strings.TrimPrefix(full, root), "/")
	var missing []string
	for _, p := range prefixes(rel) {
		fi, err := os.Stat(root + "/" + p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			missing = append(missing, p)
		case err != nil:
			return nil, err
		case !fi.IsDir():
			return nil, fmt.Errorf("WORKDIR %s: /%s exists and is not a directory", dir, p)
		}
	}
	return missing, nil
}

// prefixes returns "a", "a/b", "a/b/c" for "a/b/c".
func prefixes(rel string) []string {
	if rel == "" {
		return nil
	}
	parts := strings.Split(rel, "/")
	out := make([]string, 0, len(parts))
	for i := range parts {
		out = append(out, strings.Join(parts[:i+1], "/"))
	}
	return out
}
