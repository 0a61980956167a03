package builder

import (
	"archive/tar"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
)

// destination is where a COPY or ADD writes, resolved in the image.
type destination struct {
	// rel is the path below the image root, symlinks in the image
	// resolved inside it; "" is the root.
	rel string
	// dir says the sources go into rel as a directory: the destination
	// ends in "/" or is a directory of the image (or was made one by an
	// earlier source of the same instruction).
	dir bool
	// exists says rel is in the image; isFile that it is not a directory.
	exists, isFile bool
}

// destSpec is the destination as written, made absolute against WORKDIR,
// and whether it ends in "/" (or is "." or "/", which name directories).
func destSpec(dest, workdir string) (string, bool) {
	slash := strings.HasSuffix(dest, "/") || dest == "." || dest == ""
	if !path.IsAbs(dest) {
		if workdir == "" {
			workdir = "/"
		}
		dest = path.Join(workdir, dest)
	}
	dest = path.Clean(dest)
	return dest, slash || dest == "/"
}

// resolveDest resolves dest (absolute) in the image at root, following
// symlinks inside root as BuildKit does; root "" (COPY --link) resolves
// nothing, as BuildKit's --link copies into an empty directory.
func resolveDest(root, dest string, slash bool) (destination, error) {
	d := destination{rel: strings.TrimPrefix(dest, "/"), dir: slash}
	if root == "" {
		return d, nil
	}
	full, err := securejoin.SecureJoin(root, dest)
	if err != nil {
		return d, fmt.Errorf("resolving destination %s in the image: %w", dest, err)
	}
	rel, err := filepath.Rel(root, full)
	if err != nil {
		return d, fmt.Errorf("resolving destination %s in the image: %w", dest, err)
	}
	if rel == "." {
		rel = ""
	}
	d.rel = filepath.ToSlash(rel)
	fi, err := os.Lstat(full)
	if err == nil {
		d.exists, d.isFile = true, !fi.IsDir()
		d.dir = d.dir || fi.IsDir()
	}
	return d, nil
}

// target returns the name a file source called name gets.
func (d *destination) target(name string) string {
	if d.dir {
		return path.Join(d.rel, name)
	}
	return d.rel
}

// ensureDir writes entries for rel and each of its parents: a directory
// the image has keeps its metadata, a missing one is made with
// newDirMode and owned by the --chown owner (root without one) as
// BuildKit makes them. mtime,
// when not zero, is the time rel itself gets (BuildKit gives a directory
// whose contents it copies the source directory's time).
func (c *copier) ensureDir(rel string, mtime time.Time) error {
	if rel == "" {
		return nil
	}
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		if c.dirs[p] {
			continue
		}
		var t time.Time
		if i == len(parts)-1 {
			t = mtime
		}
		if err := c.dirEntry(p, t); err != nil {
			return err
		}
	}
	return nil
}

// dirEntry writes the entry of directory p: from the image when it has
// one. A zero mtime means the image's time, or now for a new directory.
func (c *copier) dirEntry(p string, mtime time.Time) error {
	hdr := &tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: c.newDirMode(),
		ModTime: mtime}
	if mtime.IsZero() {
		hdr.ModTime = c.now
	}
	hdr.Uid, hdr.Gid = c.owner(nil)
	if c.image != "" {
		fi, err := os.Lstat(filepath.Join(c.image, p))
		switch {
		case err == nil && !fi.IsDir():
			return fmt.Errorf("cannot copy to non-directory: /%s", p)
		case err == nil:
			hdr.Mode = unixPerm(fi.Mode())
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			}
			if mtime.IsZero() {
				hdr.ModTime = fi.ModTime()
			}
		}
	}
	c.dirs[p] = true
	if c.sum != nil {
		c.sum.add(hdr, "", nil)
		return nil
	}
	if err := c.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", hdr.Name, err)
	}
	return nil
}

// newDirMode is the mode of a directory the copy has to make: the
// permission bits of an octal --chmod, else 0755. BuildKit's copy (fsutil
// since moby/buildkit#4945) makes missing parents with the --chmod mode,
// even one without execute bits; a symbolic --chmod does not apply there.
func (c *copier) newDirMode() int64 {
	if c.chmod != nil && c.chmod.octal {
		return c.chmod.mode & modeRWX
	}
	return 0o755
}

// parentOf returns the directory rel is in, "" for the root.
func parentOf(rel string) string {
	if dir := path.Dir(rel); dir != "." {
		return dir
	}
	return ""
}

// fileEntry writes a heredoc as a regular file.
func (c *copier) fileEntry(name string, f *fixedFile) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(f.data)),
		Mode: c.chmod.apply(f.mode, false), ModTime: f.mtime}
	hdr.Uid, hdr.Gid = c.owner(nil)
	if err := c.checkTarget(hdr); err != nil {
		return err
	}
	if c.sum != nil {
		c.sum.addData(hdr, f.data)
		return nil
	}
	if err := c.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	_, err := c.tw.Write(f.data)
	return err
}
