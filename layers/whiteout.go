package layers

import (
	"fmt"
	"path"
	"strings"
)

// OCI layer whiteouts, and their overlay lower form.
const (
	// WhiteoutPrefix marks a tar entry ".wh.NAME" that deletes NAME from the
	// layers below. On disk it is a character device 0/0 named NAME.
	WhiteoutPrefix = ".wh."
	// WhiteoutOpaque is the entry "DIR/.wh..wh..opq" that hides everything
	// the layers below have in DIR. On disk DIR carries OpaqueXattr = "y".
	WhiteoutOpaque = WhiteoutPrefix + WhiteoutPrefix + ".opq"
	// OpaqueXattr marks an opaque directory in an overlay mounted with
	// userxattr, as ibuild always mounts it.
	OpaqueXattr = "user.overlay.opaque"
	// trustedOpaqueXattr is the same mark from an overlay mounted without
	// userxattr; DiffUpper honours it too.
	trustedOpaqueXattr = "trusted.overlay.opaque"
	// xattrRecord prefixes xattrs in PAX records.
	xattrRecord = "SCHILY.xattr."
)

// isOverlayXattr reports xattrs that belong to overlayfs itself: they never
// go into a layer and are never taken from one.
func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, "user.overlay.") || strings.HasPrefix(name, "trusted.overlay.")
}

// whiteoutKind says what a cleaned entry name means.
type whiteoutKind int

const (
	notWhiteout whiteoutKind = iota
	whiteoutFile
	whiteoutOpaqueDir
	whiteoutMeta // other ".wh..wh." names (aufs bookkeeping), ignored
)

// parseWhiteout classifies the cleaned relative name rel. For a whiteout
// it returns the path it deletes; for an opaque marker, the directory.
func parseWhiteout(rel string) (whiteoutKind, string, error) {
	if strings.HasPrefix(rel, WhiteoutPrefix+WhiteoutPrefix) && rel != WhiteoutOpaque {
		return whiteoutMeta, "", nil // aufs bookkeeping below the root, as Docker skips it
	}
	dir, base := path.Split(rel)
	if !strings.HasPrefix(base, WhiteoutPrefix) {
		return notWhiteout, "", nil
	}
	dir = cleanDir(dir)
	switch {
	case base == WhiteoutOpaque:
		return whiteoutOpaqueDir, dir, nil
	case strings.HasPrefix(base, WhiteoutPrefix+WhiteoutPrefix):
		return whiteoutMeta, "", nil
	}
	name := strings.TrimPrefix(base, WhiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return 0, "", fmt.Errorf("whiteout %q names no file", base)
	}
	return whiteoutFile, path.Join(dir, name), nil
}

// cleanDir turns the directory part of path.Split into a relative name,
// "." for the root.
func cleanDir(dir string) string {
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		return "."
	}
	return dir
}

// cleanName turns a tar entry name into a clean path relative to the root.
// Leading slashes are dropped (absolute names are taken as relative to the
// root, as Docker does); a name that climbs above the root is refused.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("empty name")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return "", fmt.Errorf("name %q holds a NUL byte", name)
	}
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("name %q climbs out of the root", name)
	}
	return rel, nil
}
