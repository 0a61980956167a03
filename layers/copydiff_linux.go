package layers

import (
	"archive/tar"
	"context"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Tree records a root filesystem before a RUN step runs in it without
// overlayfs, so that DiffTree can tell afterwards what the step changed.
type Tree struct {
	entries map[string]treeEntry
}

type treeEntry struct {
	ino          uint64
	ctime, mtime unix.Timespec
	mode         uint32
	uid, gid     uint32
	size         int64
	dir          bool
}

// sameAs reports whether st is the file e recorded, unchanged in what a
// layer holds: the same inode, and either no change at all (ctime), or the
// same type, mode, owner, and for a non-directory the same size and mtime,
// the metadata BuildKit's differ compares to skip copied-up files.
func (e treeEntry) sameAs(st *unix.Stat_t) bool {
	if e.ino != st.Ino {
		return false
	}
	if e.ctime == st.Ctim {
		return true
	}
	if e.mode != st.Mode || e.uid != st.Uid || e.gid != st.Gid {
		return false
	}
	return e.dir || (e.size == st.Size && e.mtime == st.Mtim)
}

// Snapshot records every path below root with its inode and change time.
// The kernel sets a file's change time on every change, and no program can
// set it back, so an unchanged (inode, ctime) pair means an unchanged file.
func Snapshot(root string) (*Tree, error) {
	t := &Tree{entries: map[string]treeEntry{}}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		t.entries[filepath.ToSlash(rel)] = treeEntry{ino: st.Ino, ctime: st.Ctim,
			mtime: st.Mtim, mode: st.Mode, uid: st.Uid, gid: st.Gid, size: st.Size,
			dir: st.Mode&unix.S_IFMT == unix.S_IFDIR}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("recording %s: %w", root, err)
	}
	return t, nil
}

// DiffTree writes what changed below root since before as layer entries:
// new and changed files (parents written when a child is), a replaced
// directory as opaque, and whiteouts for what was deleted, each after the
// directory it was deleted from, as BuildKit orders them.
func DiffTree(ctx context.Context, root string, before *Tree, tw *tar.Writer,
	opts DiffOptions) error {
	d := &differ{tw: tw, clamp: newClamp(opts.Epoch), exclude: map[string]bool{},
		links: map[inode]string{}}
	for _, e := range opts.Exclude {
		if rel, err := cleanName(e); err == nil {
			d.exclude[rel] = true
		}
	}
	gone := deleted(root, before)
	d.now = time.Now()
	if err := d.writeWhiteouts(gone["."]); err != nil {
		return err
	}
	err := d.walk(ctx, root, func(p, rel string) error {
		return d.treeEntry(p, rel, before, gone)
	})
	if err != nil {
		return fmt.Errorf("diffing %s: %w", root, err)
	}
	return nil
}

// treeEntry writes the entry at p unless it is what before recorded.
func (d *differ) treeEntry(p, rel string, before *Tree, gone map[string][]string) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return err
	}
	old, existed := before.entries[rel]
	isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	d.dropPending(rel)
	_, lost := gone[rel]
	if existed && old.sameAs(&st) && !lost && !hasGoneBelow(gone, rel) {
		if isDir {
			hdr, _, err := headerOf(p, rel)
			if err != nil {
				return err
			}
			d.clamp.header(hdr)
			d.pending = append(d.pending, hdr)
		}
		return nil
	}
	if err := d.flushPending(); err != nil {
		return err
	}
	if err := d.entry(p, rel); err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if existed && old.dir && isDir && old.ino != st.Ino {
		// The directory was replaced: nothing of the old one shows through.
		// The marker carries the directory's metadata, as DiffUpper writes it.
		hdr, _, err := headerOf(p, rel)
		if err != nil {
			return err
		}
		d.clamp.header(hdr)
		return d.tw.WriteHeader(&tar.Header{Name: rel + "/" + WhiteoutOpaque,
			Typeflag: tar.TypeReg, Mode: hdr.Mode & 0o777, Uid: hdr.Uid, Gid: hdr.Gid,
			ModTime: hdr.ModTime, Format: tar.FormatPAX})
	}
	return d.writeWhiteouts(gone[rel])
}

// hasGoneBelow reports whether something was deleted somewhere below dir.
func hasGoneBelow(gone map[string][]string, dir string) bool {
	for parent := range gone {
		if parent == dir || strings.HasPrefix(parent, dir+"/") {
			return true
		}
	}
	return false
}

// deleted finds the paths of before that are gone from root, by directory
// ("." for the root), leaving out those whose directory went too or was
// replaced (the new one hides them anyway).
func deleted(root string, before *Tree) map[string][]string {
	gone := map[string][]string{}
	exists := func(rel string) (unix.Stat_t, bool) {
		var st unix.Stat_t
		return st, unix.Lstat(filepath.Join(root, rel), &st) == nil
	}
	for rel := range before.entries {
		if _, ok := exists(rel); ok {
			continue
		}
		parent := path.Dir(rel)
		if parent != "." {
			old := before.entries[parent]
			st, ok := exists(parent)
			if !ok || st.Ino != old.ino || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				continue
			}
		}
		gone[parent] = append(gone[parent], rel)
	}
	for _, v := range gone {
		sort.Strings(v)
	}
	return gone
}

// writeWhiteouts writes a whiteout entry for each of rels, as DiffUpper
// writes overlay's whiteouts: mode 0, owned by root, dated now (clamped).
func (d *differ) writeWhiteouts(rels []string) error {
	for _, rel := range rels {
		dir, base := path.Split(rel)
		h := &tar.Header{Name: dir + WhiteoutPrefix + base, Typeflag: tar.TypeReg,
			ModTime: d.now.Truncate(time.Second), Format: tar.FormatPAX}
		d.clamp.header(h)
		if err := d.tw.WriteHeader(h); err != nil {
			return err
		}
	}
	return nil
}
