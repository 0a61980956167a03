package attest

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
)

// scanJobs is how many layers Scan reads at once.
const scanJobs = 2

// Scan reads the layers of an image, bottom first, and returns what the
// final file system holds: the packages of the dpkg and apk databases and
// the modules of Go binaries, and the files of the added layers. Layers
// are streamed, a few at once; whiteouts and replaced paths are applied as
// an image runtime would, so only what the image shows counts.
func Scan(ctx context.Context, layers []Layer) (*Inventory, error) {
	idx := make([]*layerIndex, len(layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(scanJobs)
	for i, l := range layers {
		g.Go(func() error {
			li, err := readLayer(gctx, l)
			if err != nil {
				return fmt.Errorf("reading layer %d: %w", i+1, err)
			}
			idx[i] = li
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return merge(idx).inventory(), nil
}

// view is the final file system as far as Scan needs it: what the top-most
// layer that shows each wanted path holds there.
type view struct {
	contents map[string][]byte
	markers  map[string]bool
	gobins   map[string]goBinary
	files    map[string]File
}

// upper is what the layers above the one being merged do to it.
type upper struct {
	// seen holds the paths upper layers have: they hide the same path below.
	seen map[string]bool
	// hiding holds whiteouts, opaque directories and non-directories of
	// upper layers: they hide what lower layers have below them.
	hiding map[string]bool
}

// visible says whether a lower layer's path p shows through.
func (u *upper) visible(p string) bool {
	if u.seen[p] {
		return false
	}
	for a := path.Dir(p); a != "."; a = path.Dir(a) {
		if u.hiding[a] {
			return false
		}
	}
	return true
}

// add puts a layer's entries above the layers still to merge.
func (u *upper) add(es []entry) {
	for _, e := range es {
		u.seen[e.path] = true
		if e.kind != kindDir {
			u.hiding[e.path] = true
		}
	}
}

// merge applies the layers from the top down: a wanted path is taken from
// the top-most layer that shows it.
func merge(idx []*layerIndex) *view {
	v := &view{contents: map[string][]byte{}, markers: map[string]bool{},
		gobins: map[string]goBinary{}, files: map[string]File{}}
	u := &upper{seen: map[string]bool{}, hiding: map[string]bool{}}
	for i := len(idx) - 1; i >= 0; i-- {
		li := idx[i]
		takeVisible(u, li.contents, v.contents)
		takeVisible(u, li.markers, v.markers)
		takeVisible(u, li.gobins, v.gobins)
		takeVisible(u, li.files, v.files)
		u.add(li.entries)
	}
	return v
}

func takeVisible[T any](u *upper, from, to map[string]T) {
	for p, x := range from {
		if u.visible(p) {
			to[p] = x
		}
	}
}

// inventory reads the package databases and Go binaries of the view.
func (v *view) inventory() *Inventory {
	inv := &Inventory{}
	for _, p := range osRelease {
		if data, ok := v.contents[p]; ok {
			inv.Distro = parseOSRelease(data)
			break
		}
	}
	var pkgs []Package
	for _, p := range sortedKeys(v.contents) {
		switch {
		case p == dpkgStatus || strings.HasPrefix(p, dpkgStatusDir):
			ps, warns := parseDpkgStatus(v.contents[p], p)
			pkgs = append(pkgs, ps...)
			inv.Warnings = append(inv.Warnings, warns...)
		case slices.Contains(apkInstalled, p):
			pkgs = append(pkgs, parseAPKInstalled(v.contents[p], p)...)
		}
	}
	for _, p := range sortedKeys(v.gobins) {
		g := v.gobins[p]
		if g.err != nil {
			inv.Warnings = append(inv.Warnings, fmt.Sprintf("/%s: %v", p, g.err))
			continue
		}
		pkgs = append(pkgs, goPackages(g.info, "/"+p)...)
	}
	for _, p := range sortedKeys(v.markers) {
		inv.Warnings = append(inv.Warnings, fmt.Sprintf("/%s: the SBOM does not list RPM "+
			"packages yet", p))
	}
	for i := range pkgs {
		pkgs[i].PURL = packageURL(pkgs[i], inv.Distro)
	}
	pkgs = mergePackages(pkgs)
	sortPackages(pkgs)
	inv.Packages = pkgs
	for _, f := range v.files {
		inv.Files = append(inv.Files, f)
	}
	slices.SortFunc(inv.Files, func(a, b File) int { return cmp.Compare(a.Path, b.Path) })
	return inv
}

func sortedKeys[T any](m map[string]T) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
