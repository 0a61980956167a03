package layers

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// DiffUpper writes the changes an overlay upper directory holds as OCI
// layer entries to tw (without closing it). Entries come sorted, parents
// first, with numeric owners, no user or group names, and PAX headers
// where needed. Files linked more than once inside upper become one file
// and hard links to it. A 0/0 character device becomes a ".wh.NAME"
// whiteout, and a directory marked opaque (user.overlay.opaque or
// trusted.overlay.opaque = "y") is followed by "DIR/.wh..wh..opq". Other
// xattrs are kept as SCHILY.xattr records, except overlay's own. Sockets
// are left out, as tar cannot hold them.
func DiffUpper(ctx context.Context, upper string, tw *tar.Writer, opts DiffOptions) error {
	d := &differ{
		tw:      tw,
		clamp:   newClamp(opts.Epoch),
		exclude: map[string]bool{},
		links:   map[inode]string{},
		lower:   opts.Lower,
	}
	for _, e := range opts.Exclude {
		rel, err := cleanName(e)
		if err != nil {
			return fmt.Errorf("diffing %s: exclude: %w", upper, err)
		}
		d.exclude[rel] = true
	}
	err := d.walk(ctx, upper, func(p, rel string) error {
		if err := d.entry(p, rel); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("diffing %s: %w", upper, err)
	}
	return nil
}

// differ carries the walk's state.
type differ struct {
	tw      *tar.Writer
	clamp   *clamp
	exclude map[string]bool
	links   map[inode]string // first name of each inode seen with links > 1
	lower   string           // view of the layers below, "" for none
	// now dates the whiteouts DiffTree writes.
	now time.Time
	// pending holds directories left out as unchanged, written only when
	// an entry below them is written.
	pending []*tar.Header
}

// inode identifies a file for hard link detection.
type inode struct{ dev, ino uint64 }

// entry writes the tar entries for the file at p, named rel.
func (d *differ) entry(p, rel string) error {
	hdr, info, err := headerOf(p, rel)
	if err != nil {
		return err
	}
	if hdr == nil {
		return nil // a socket
	}
	d.clamp.header(hdr)
	d.dropPending(rel)
	if !info.whiteout && !info.opaque && d.lower != "" {
		same, err := sameAsLower(p, d.lower, rel)
		if err != nil {
			return err
		}
		if same {
			if hdr.Typeflag == tar.TypeDir {
				d.pending = append(d.pending, hdr)
			}
			return nil
		}
	}
	if err := d.flushPending(); err != nil {
		return err
	}
	if info.whiteout {
		dir, base := path.Split(rel)
		hdr.Name = dir + WhiteoutPrefix + base
		return d.tw.WriteHeader(hdr)
	}
	if info.links > 1 && hdr.Typeflag != tar.TypeDir {
		if first, ok := d.links[info.id]; ok {
			hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
			hdr.PAXRecords = nil // the same inode: its xattrs came with it
			return d.tw.WriteHeader(hdr)
		}
		d.links[info.id] = rel
	}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := copyFile(d.tw, p, hdr.Size); err != nil {
			return err
		}
	}
	if info.opaque {
		return d.tw.WriteHeader(&tar.Header{
			Name:     rel + "/" + WhiteoutOpaque,
			Typeflag: tar.TypeReg,
			Mode:     hdr.Mode & 0o777,
			Uid:      hdr.Uid,
			Gid:      hdr.Gid,
			ModTime:  hdr.ModTime,
			Format:   tar.FormatPAX,
		})
	}
	return nil
}

// copyFile writes exactly size bytes of the regular file at p.
func copyFile(w io.Writer, p string, size int64) error {
	f, err := os.OpenFile(p, os.O_RDONLY|openNoFollow, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyN(w, f, size)
	if err == io.EOF {
		return fmt.Errorf("file shrank to %d bytes while read", n)
	}
	return err
}

// dropPending forgets the pending directories that are not parents of rel:
// the walk has left them.
func (d *differ) dropPending(rel string) {
	for len(d.pending) > 0 {
		last := strings.TrimSuffix(d.pending[len(d.pending)-1].Name, "/")
		if strings.HasPrefix(rel, last+"/") {
			return
		}
		d.pending = d.pending[:len(d.pending)-1]
	}
}

// flushPending writes the pending parent directories.
func (d *differ) flushPending() error {
	for _, h := range d.pending {
		if err := d.tw.WriteHeader(h); err != nil {
			return err
		}
	}
	d.pending = d.pending[:0]
	return nil
}

// walk calls fn for every entry below root, parents first, with its path
// relative to root, leaving out the excluded paths and what is below them.
func (d *differ) walk(ctx context.Context, root string, fn func(p, rel string) error) error {
	return filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.exclude[rel] {
			if de.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return fn(p, rel)
	})
}
