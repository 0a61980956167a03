package builder

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"
)

// copyRequest is a COPY or an ADD, variables already expanded.
type copyRequest struct {
	add      bool
	srcs     []string
	heredocs []instructions.SourceContent
	dest     string
	from     string
	chown    string
	chmod    string
	link     bool
	parents  bool
	excludes []string
	// ADD only.
	checksum   string
	unpack     *bool
	keepGitDir *bool
}

// copyFromCopy returns the request of a COPY instruction.
func copyFromCopy(c *instructions.CopyCommand) copyRequest {
	return copyRequest{
		srcs: c.SourcePaths, heredocs: c.SourceContents, dest: c.DestPath,
		from: c.From, chown: c.Chown, chmod: c.Chmod, link: c.Link,
		parents: c.Parents, excludes: c.ExcludePatterns,
	}
}

// copyFromAdd returns the request of an ADD instruction.
func copyFromAdd(c *instructions.AddCommand) copyRequest {
	return copyRequest{
		add: true, srcs: c.SourcePaths, heredocs: c.SourceContents, dest: c.DestPath,
		chown: c.Chown, chmod: c.Chmod, link: c.Link, excludes: c.ExcludePatterns,
		checksum: c.Checksum, unpack: c.Unpack, keepGitDir: c.KeepGitDir,
	}
}

// historyText is the history entry BuildKit writes for the instruction
// (without its " # buildkit" suffix).
func (r *copyRequest) historyText() string {
	var b strings.Builder
	if r.add {
		b.WriteString("ADD")
	} else {
		b.WriteString("COPY")
	}
	if r.parents {
		b.WriteString(" --parents")
	}
	if r.chown != "" {
		b.WriteString(" --chown=" + r.chown)
	}
	if r.chmod != "" {
		b.WriteString(" --chmod=" + r.chmod)
	}
	for _, s := range r.srcs {
		b.WriteString(" " + s)
	}
	for _, h := range r.heredocs {
		b.WriteString(" <<" + h.Path)
	}
	b.WriteString(" " + r.dest)
	return b.String()
}

// dispatchCopy runs a COPY or an ADD: it resolves the sources and the
// destination, then writes one layer with the copied entries.
func (s *state) dispatchCopy(ctx context.Context, req copyRequest) error {
	if err := req.validate(); err != nil {
		return err
	}
	c, err := s.newCopyCopier(ctx, &req)
	if err != nil {
		return err
	}
	src, err := s.copySource(ctx, &req)
	if err != nil {
		return err
	}
	c.ignore = src.ignore
	c.keepOwners = req.from != ""
	destPath, slash := destSpec(req.dest, s.cfg.Config.WorkingDir)
	dest, err := resolveDest(c.image, destPath, slash)
	if err != nil {
		return err
	}
	c.now = s.created
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	var items []srcItem
	if !req.parents {
		if items, temps, err = s.copyItems(ctx, &req, src); err != nil {
			return err
		}
		if len(items) > 1 && !dest.dir {
			return fmt.Errorf("when using %s with more than one source file, "+
				"the destination must be a directory and end with a /", req.name())
		}
	}
	return s.commitLayer(ctx, req.historyText(), func(tw *tar.Writer) error {
		c.tw = tw
		if req.parents {
			return c.copyParents(ctx, src, req.srcs, &dest)
		}
		for i := range items {
			if err := c.copyItem(ctx, &items[i], &dest, s.b.opts.Epoch); err != nil {
				return err
			}
		}
		return nil
	})
}

func (r *copyRequest) name() string {
	if r.add {
		return "ADD"
	}
	return "COPY"
}

// validate refuses flag and source combinations BuildKit refuses, and
// what ibuild does not support yet.
func (r *copyRequest) validate() error {
	if r.keepGitDir != nil {
		return errors.New("ADD --keep-git-dir is not supported yet")
	}
	for _, src := range r.srcs {
		switch {
		case isGitSource(src) && !r.add:
			return errors.New("source can't be a git ref for COPY")
		case isGitSource(src):
			return fmt.Errorf("ADD of a Git repository (%s) is not supported yet", src)
		case isHTTPSource(src) && !r.add:
			return errors.New("source can't be a URL for COPY")
		}
	}
	if r.checksum != "" {
		if len(r.srcs) != 1 {
			return errors.New("checksum can't be specified for multiple sources")
		}
		if !isHTTPSource(r.srcs[0]) {
			return errors.New("checksum requires HTTP(S) or Git sources")
		}
	}
	if r.link && r.chown != "" {
		if _, _, _, ok := numericUser(r.chown); !ok {
			return fmt.Errorf("--chown=%s: user and group names can't be resolved when used "+
				"with --link, use numeric uid[:gid] instead", r.chown)
		}
	}
	if r.parents && len(r.heredocs) > 0 {
		return errors.New("COPY --parents with a heredoc is not supported yet")
	}
	return nil
}

// newCopyCopier prepares the copier: --chown, --chmod, --exclude and the
// image root the destination is resolved in.
func (s *state) newCopyCopier(ctx context.Context, req *copyRequest) (*copier, error) {
	c := newCopier(nil, s.created)
	var err error
	if c.chmod, err = parseChmod(req.chmod); err != nil {
		return nil, err
	}
	if req.chown != "" {
		o, err := s.lookupOwner(ctx, req.chown)
		if err != nil {
			return nil, err
		}
		c.chown = &o
	}
	if len(req.excludes) > 0 {
		if c.exclude, err = newPathFilter(req.excludes, false); err != nil {
			return nil, fmt.Errorf("--exclude: %w", err)
		}
	}
	if !req.link {
		// TODO: this unpacks and mounts every base layer even for a stage
		// with no RUN; looking the destination up in the layers' tar
		// indexes would spare that (DESIGN, step 3).
		if c.image, err = s.rootfs(ctx); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// copySource returns the root the sources are read from: another stage or
// image for --from, else the build context with its ignore file.
func (s *state) copySource(ctx context.Context, req *copyRequest) (*srcRoot, error) {
	if req.from != "" {
		from, _, err := s.b.lex.ProcessWord(req.from, s.b.global)
		if err != nil {
			return nil, fmt.Errorf("expanding --from: %w", err)
		}
		dir, err := s.fromRoot(ctx, from)
		if err != nil {
			return nil, err
		}
		return &srcRoot{dir: dir}, nil
	}
	if s.b.opts.ContextDir == "" && len(req.srcs) > 0 && !allRemote(req.srcs) {
		return nil, errors.New("no build context was given")
	}
	ign, err := s.b.context.ignoreMatcher()
	if err != nil {
		return nil, err
	}
	return &srcRoot{dir: s.b.opts.ContextDir, ignore: ign}, nil
}

func allRemote(srcs []string) bool {
	for _, s := range srcs {
		if !isHTTPSource(s) {
			return false
		}
	}
	return true
}

// copyItem writes one source to the destination.
func (c *copier) copyItem(ctx context.Context, it *srcItem, d *destination,
	epoch *time.Time) error {
	switch {
	case it.archive:
		return c.extract(it, d, epoch)
	case it.fixed != nil && it.host == "":
		target := d.target(it.name)
		if err := c.ensureDir(parentOf(target), time.Time{}); err != nil {
			return err
		}
		return c.fileEntry(target, it.fixed)
	case it.fi.IsDir():
		if d.exists && d.isFile {
			return fmt.Errorf("cannot copy to non-directory: /%s", d.rel)
		}
		if err := c.ensureDir(d.rel, it.fi.ModTime()); err != nil {
			return err
		}
		d.dir, d.exists = true, true
		return c.dirContents(ctx, it.host, it.rel, "", d.rel, it.ign, patternmatcher.MatchInfo{})
	}
	target := d.target(it.name)
	if err := c.ensureDir(parentOf(target), time.Time{}); err != nil {
		return err
	}
	if !d.dir {
		d.exists, d.isFile = true, true
	}
	return c.entry(it.host, it.fi, target, it.fixed)
}
