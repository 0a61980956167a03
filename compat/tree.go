package compat

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Tree is a flattened image filesystem: what a container sees, by absolute
// path ("/etc/passwd"). The root directory itself is not in it.
type Tree map[string]*Node

// Node is what the suite compares of one path. Regular files reached by
// hard links are "reg" nodes that share an inode: Hardlinks lists the other
// paths of the group.
type Node struct {
	Type      string            `json:"type"` // reg, dir, sym, chr, blk, fifo
	Mode      Mode              `json:"mode"` // permission bits with setuid, setgid, sticky
	UID       int               `json:"uid"`
	GID       int               `json:"gid"`
	Size      int64             `json:"size,omitempty"`
	SHA256    string            `json:"sha256,omitempty"`
	Target    string            `json:"target,omitempty"` // symlink target
	Rdev      string            `json:"rdev,omitempty"`   // "major,minor" of a device
	Xattrs    map[string]string `json:"xattrs,omitempty"` // name → hex value
	Hardlinks []string          `json:"hardlinks,omitempty"`

	inode int // hard-link identity while flattening
}

// Flatten applies the layers of img in order, with OCI whiteouts, and
// returns the resulting tree.
func Flatten(img v1.Image) (Tree, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	f := &flattener{tree: Tree{}}
	for i, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, fmt.Errorf("opening layer %d: %w", i+1, err)
		}
		err = f.apply(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("applying layer %d: %w", i+1, err)
		}
	}
	f.tree.linkGroups()
	return f.tree, nil
}

// ApplyLayer applies one uncompressed layer tar to t, for tests and for
// building expected trees.
func (t Tree) ApplyLayer(r io.Reader) error {
	f := &flattener{tree: t, inodes: len(t)}
	for _, n := range t {
		f.inodes = max(f.inodes, n.inode)
	}
	if err := f.apply(r); err != nil {
		return err
	}
	t.linkGroups()
	return nil
}

// flattener holds the state of one Flatten.
type flattener struct {
	tree   Tree
	inodes int // last inode number handed out
}

// entry is one tar header of a layer with its content digest.
type entry struct {
	name string // cleaned absolute path
	hdr  *tar.Header
	sum  string
}

// apply applies one layer: its whiteouts first, against the layers below
// (as the OCI image spec says), then its entries in order.
func (f *flattener) apply(r io.Reader) error {
	entries, err := readLayer(r)
	if err != nil {
		return err
	}
	for _, e := range entries {
		dir, base := path.Split(e.name)
		switch {
		case base == ".wh..wh..opq":
			f.tree.removeBelow(path.Clean(dir))
		case strings.HasPrefix(base, ".wh."):
			f.tree.remove(path.Join(dir, strings.TrimPrefix(base, ".wh.")))
		}
	}
	for _, e := range entries {
		if strings.HasPrefix(path.Base(e.name), ".wh.") {
			continue
		}
		if err := f.put(e); err != nil {
			return err
		}
	}
	return nil
}

// readLayer reads every header of a layer tar and hashes file contents.
func readLayer(r io.Reader) ([]entry, error) {
	var out []entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		name := path.Clean("/" + h.Name)
		if name == "/" {
			continue
		}
		e := entry{name: name, hdr: h}
		if h.Typeflag == tar.TypeReg {
			s := sha256.New()
			if _, err := io.Copy(s, tr); err != nil {
				return nil, fmt.Errorf("reading %s: %w", name, err)
			}
			e.sum = hex.EncodeToString(s.Sum(nil))
		}
		out = append(out, e)
	}
}

// put adds one non-whiteout entry, replacing what was at its path.
func (f *flattener) put(e entry) error {
	h := e.hdr
	var n *Node
	if h.Typeflag == tar.TypeLink {
		target := f.tree[path.Clean("/"+h.Linkname)]
		if target == nil || target.Type != "reg" {
			return fmt.Errorf("hard link %s to %s: no regular file there", e.name, h.Linkname)
		}
		// An extractor (containerd, Docker) links, then chowns and chmods
		// the new name: the header's owner and mode go to the shared inode.
		mode := Mode(h.Mode & 0o7777)
		for _, o := range f.tree {
			if o.inode == target.inode {
				o.Mode, o.UID, o.GID = mode, h.Uid, h.Gid
			}
		}
		c := *target
		c.Hardlinks = nil
		n = &c
	} else {
		var err error
		if n, err = nodeOf(h, e.sum); err != nil {
			return fmt.Errorf("%s: %w", e.name, err)
		}
		f.inodes++
		n.inode = f.inodes
	}
	old := f.tree[e.name]
	if old != nil && old.Type == "dir" && n.Type != "dir" {
		f.tree.removeBelow(e.name)
	}
	f.tree.makeParents(e.name)
	f.tree[e.name] = n
	return nil
}

// nodeOf turns a tar header into a node.
func nodeOf(h *tar.Header, sum string) (*Node, error) {
	n := &Node{Mode: Mode(h.Mode & 0o7777), UID: h.Uid, GID: h.Gid}
	switch h.Typeflag {
	case tar.TypeReg:
		n.Type, n.Size, n.SHA256 = "reg", h.Size, sum
	case tar.TypeDir:
		n.Type = "dir"
	case tar.TypeSymlink:
		n.Type, n.Target = "sym", h.Linkname
	case tar.TypeChar, tar.TypeBlock:
		n.Type = map[byte]string{tar.TypeChar: "chr", tar.TypeBlock: "blk"}[h.Typeflag]
		n.Rdev = fmt.Sprintf("%d,%d", h.Devmajor, h.Devminor)
	case tar.TypeFifo:
		n.Type = "fifo"
	default:
		return nil, fmt.Errorf("unexpected tar type %q", h.Typeflag)
	}
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			if n.Xattrs == nil {
				n.Xattrs = map[string]string{}
			}
			n.Xattrs[name] = hex.EncodeToString([]byte(v))
		}
	}
	return n, nil
}

// makeParents adds the missing parent directories of p, as an extractor
// does: mode 0755, owned by root.
func (t Tree) makeParents(p string) {
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		if n := t[d]; n != nil && n.Type == "dir" {
			return
		}
		t[d] = &Node{Type: "dir", Mode: 0o755}
	}
}

// remove deletes p and everything below it.
func (t Tree) remove(p string) {
	delete(t, p)
	t.removeBelow(p)
}

// removeBelow deletes everything below the directory p.
func (t Tree) removeBelow(p string) {
	prefix := strings.TrimSuffix(p, "/") + "/"
	for k := range t {
		if strings.HasPrefix(k, prefix) {
			delete(t, k)
		}
	}
}

// linkGroups sets Hardlinks on every regular file that shares its inode
// with other paths.
func (t Tree) linkGroups() {
	groups := map[int][]string{}
	for p, n := range t {
		if n.Type == "reg" {
			groups[n.inode] = append(groups[n.inode], p)
		}
	}
	for _, paths := range groups {
		sort.Strings(paths)
		for _, p := range paths {
			t[p].Hardlinks = nil
			if len(paths) == 1 {
				continue
			}
			for _, q := range paths {
				if q != p {
					t[p].Hardlinks = append(t[p].Hardlinks, q)
				}
			}
		}
	}
}

// Paths returns the paths of t in sorted order.
func (t Tree) Paths() []string {
	out := make([]string, 0, len(t))
	for p := range t {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}
