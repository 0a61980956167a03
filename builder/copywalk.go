package builder

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"

	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"
)

// copier writes the tar entries of one COPY or ADD into the new layer,
// straight from the source files: nothing is staged on disk or in memory.
type copier struct {
	tw *tar.Writer
	// chown, when set, owns every entry; otherwise keepOwners keeps the
	// source's owners (COPY --from) or everything is 0:0 (the context).
	chown      *owner
	keepOwners bool
	chmod      *chmodSpec
	exclude    *pathFilter
	ignore     *pathFilter
	// image is the root of the image the layer goes on, to refuse what
	// BuildKit refuses (a file over a directory); "" with --link.
	image string
	now   time.Time

	// sum, when set, records the entries for a cache key instead of
	// writing them (see treeDigest).
	sum *treeDigest

	dirs    map[string]bool    // directories written so far
	links   map[fileKey]string // first name of each hard-linked inode
	pending []pendingDir       // excluded directories not written (yet)
}

type fileKey struct{ dev, ino uint64 }

// pendingDir is a directory a filter excluded: it is written only once
// something below it is included, as BuildKit does.
type pendingDir struct {
	host string
	fi   fs.FileInfo
	name string
}

func newCopier(tw *tar.Writer, now time.Time) *copier {
	return &copier{tw: tw, now: now, dirs: map[string]bool{}, links: map[fileKey]string{}}
}

// owner returns the uid and gid an entry with the source's st gets.
func (c *copier) owner(st *syscall.Stat_t) (int, int) {
	switch {
	case c.chown != nil:
		return c.chown.uid, c.chown.gid
	case c.keepOwners && st != nil:
		return int(st.Uid), int(st.Gid)
	}
	return 0, 0
}

// dirContents copies what is inside the directory host to dest. ctxRel is
// the directory's path for the ignore file, srcRel its path for --exclude.
func (c *copier) dirContents(ctx context.Context, host, ctxRel, srcRel, dest string,
	ign, exc patternmatcher.MatchInfo) error {
	entries, err := os.ReadDir(host)
	if err != nil {
		return fmt.Errorf("reading directory %s: %w", host, err)
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := e.Name()
		err := c.visit(ctx, filepath.Join(host, name), path.Join(ctxRel, name),
			path.Join(srcRel, name), path.Join(dest, name), ign, exc)
		if err != nil {
			return err
		}
	}
	return nil
}

// visit copies one entry found by a walk (and what is below it) unless a
// filter excludes it.
func (c *copier) visit(ctx context.Context, host, ctxRel, srcRel, dest string,
	ign, exc patternmatcher.MatchInfo) error {
	fi, err := os.Lstat(host)
	if err != nil {
		return fmt.Errorf("reading %s: %w", host, err)
	}
	ignored, ign, err := c.ignore.excluded(ctxRel, ign)
	if err != nil {
		return err
	}
	excluded, exc, err := c.exclude.excluded(srcRel, exc)
	if err != nil {
		return err
	}
	if ignored || excluded {
		if !fi.IsDir() || ignored && !c.ignore.mayReinclude(ctxRel) {
			return nil
		}
		n := len(c.pending)
		c.pending = append(c.pending, pendingDir{host: host, fi: fi, name: dest})
		err := c.dirContents(ctx, host, ctxRel, srcRel, dest, ign, exc)
		if len(c.pending) > n {
			c.pending = c.pending[:n]
		}
		return err
	}
	if err := c.flushPending(); err != nil {
		return err
	}
	if err := c.entry(host, fi, dest, nil); err != nil {
		return err
	}
	if fi.IsDir() {
		return c.dirContents(ctx, host, ctxRel, srcRel, dest, ign, exc)
	}
	return nil
}

func (c *copier) flushPending() error {
	for _, p := range c.pending {
		if err := c.entry(p.host, p.fi, p.name, nil); err != nil {
			return err
		}
	}
	c.pending = c.pending[:0]
	return nil
}

// fixedFile is content that does not come from a file of the source root
// (a heredoc's data, a downloaded file), with its own mode and time.
type fixedFile struct {
	data  []byte
	mode  int64
	mtime time.Time
}

// entry writes the entry for host (described by fi) as name. fixed, when
// set, gives the metadata of a heredoc or a download.
func (c *copier) entry(host string, fi fs.FileInfo, name string, fixed *fixedFile) error {
	st, _ := fi.Sys().(*syscall.Stat_t)
	hdr := &tar.Header{Name: name, ModTime: fi.ModTime(), Mode: unixPerm(fi.Mode())}
	hdr.Uid, hdr.Gid = c.owner(st)
	if fixed != nil {
		hdr.Mode, hdr.ModTime = fixed.mode, fixed.mtime
	}
	if err := c.setType(hdr, host, fi, st); err != nil {
		return err
	}
	if hdr.Typeflag == 0 {
		return nil // a socket: tar cannot hold it, BuildKit's context has none
	}
	if err := c.checkTarget(hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeSymlink {
		hdr.Mode = c.chmod.apply(hdr.Mode, fi.IsDir())
		if err := addCapability(hdr, host); err != nil {
			return err
		}
	}
	if c.sum != nil {
		c.sum.add(hdr, host, st)
		return nil
	}
	if err := c.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	return copyContent(c.tw, host, hdr.Size)
}

// setType fills in the entry type and what goes with it.
func (c *copier) setType(hdr *tar.Header, host string, fi fs.FileInfo, st *syscall.Stat_t) error {
	m := fi.Mode()
	switch {
	case m.IsDir():
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
		c.dirs[hdr.Name[:len(hdr.Name)-1]] = true
	case m.IsRegular():
		hdr.Typeflag, hdr.Size = tar.TypeReg, fi.Size()
		if st != nil && st.Nlink > 1 {
			k := fileKey{uint64(st.Dev), st.Ino}
			if first, ok := c.links[k]; ok {
				hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			} else {
				c.links[k] = hdr.Name
			}
		}
	case m&fs.ModeSymlink != 0:
		target, err := os.Readlink(host)
		if err != nil {
			return fmt.Errorf("reading symlink %s: %w", host, err)
		}
		hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, target, 0o777
	case m&fs.ModeNamedPipe != 0:
		hdr.Typeflag = tar.TypeFifo
	case m&fs.ModeDevice != 0 && st != nil:
		hdr.Typeflag = tar.TypeBlock
		if m&fs.ModeCharDevice != 0 {
			hdr.Typeflag = tar.TypeChar
		}
		hdr.Devmajor = int64(unix.Major(uint64(st.Rdev)))
		hdr.Devminor = int64(unix.Minor(uint64(st.Rdev)))
	}
	return nil
}

// checkTarget refuses, as BuildKit does, a file over a directory of the
// image and a directory over a non-directory.
func (c *copier) checkTarget(hdr *tar.Header) error {
	if c.image == "" {
		return nil
	}
	name := path.Clean(hdr.Name)
	fi, err := os.Lstat(filepath.Join(c.image, name))
	if err != nil {
		return nil
	}
	if hdr.Typeflag == tar.TypeDir && !fi.IsDir() {
		return fmt.Errorf("cannot copy to non-directory: /%s", name)
	}
	if hdr.Typeflag != tar.TypeDir && fi.IsDir() {
		return fmt.Errorf("cannot replace to directory /%s with file", name)
	}
	return nil
}

// unixPerm returns the permission bits of m as a tar header holds them.
func unixPerm(m fs.FileMode) int64 {
	p := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= modeSetuid
	}
	if m&fs.ModeSetgid != 0 {
		p |= modeSetgid
	}
	if m&fs.ModeSticky != 0 {
		p |= modeSticky
	}
	return p
}

// addCapability keeps a file's security.capability xattr.
func addCapability(hdr *tar.Header, host string) error {
	if host == "" {
		return nil
	}
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(host, "security.capability", buf)
	if err != nil || n == 0 {
		return nil // none, or not supported here: nothing to keep
	}
	if hdr.PAXRecords == nil {
		hdr.PAXRecords = map[string]string{}
	}
	hdr.PAXRecords["SCHILY.xattr.security.capability"] = string(buf[:n])
	return nil
}

// copyContent streams size bytes of the file at host into w, refusing to
// follow a symlink that replaced the file since it was looked at.
func copyContent(w io.Writer, host string, size int64) error {
	f, err := os.OpenFile(host, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", host, err)
	}
	defer f.Close()
	n, err := io.CopyN(w, f, size)
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("file shrank to %d bytes while being copied", n)
	}
	if err != nil {
		return fmt.Errorf("copying %s: %w", host, err)
	}
	return nil
}
