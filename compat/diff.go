package compat

import (
	"fmt"
	"sort"
	"strings"
)

// PathDiff is one path whose node differs between two trees; Got or Want is
// nil when the path is missing on that side.
type PathDiff struct {
	Path      string
	Got, Want *Node
}

// String describes the difference in one line.
func (d PathDiff) String() string {
	return fmt.Sprintf("%s: got %v, want %v", d.Path, d.Got, d.Want)
}

// DiffTrees returns every path where got and want differ, sorted by path.
func DiffTrees(got, want Tree) []PathDiff {
	var out []PathDiff
	for p, g := range got {
		if w := want[p]; !g.Equal(w) {
			out = append(out, PathDiff{Path: p, Got: g, Want: w})
		}
	}
	for p, w := range want {
		if got[p] == nil {
			out = append(out, PathDiff{Path: p, Want: w})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// FormatDiffs lists at most limit differences, one per line, and says how
// many more there were.
func FormatDiffs(diffs []PathDiff, limit int) string {
	var b strings.Builder
	for i, d := range diffs {
		if i == limit {
			fmt.Fprintf(&b, "... and %d more\n", len(diffs)-limit)
			break
		}
		fmt.Fprintln(&b, d)
	}
	return b.String()
}

// Clone returns a deep copy of t.
func (t Tree) Clone() Tree {
	out := make(Tree, len(t))
	for p, n := range t {
		c := *n
		c.Hardlinks = append([]string(nil), n.Hardlinks...)
		if n.Xattrs != nil {
			c.Xattrs = make(map[string]string, len(n.Xattrs))
			for k, v := range n.Xattrs {
				c.Xattrs[k] = v
			}
		}
		out[p] = &c
	}
	return out
}
