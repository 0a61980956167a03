package layers

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Extract unpacks the uncompressed tar stream r into dir, which must exist,
// in overlay lower form: a whiteout ".wh.NAME" becomes a character device
// 0/0 named NAME and "DIR/.wh..wh..opq" sets user.overlay.opaque=y on DIR.
//
// Nothing outside dir is ever created, changed or followed: names are
// cleaned and may not climb above dir, parents are resolved inside dir
// (a symlink in the archive cannot lead out of it), the last component of a
// name is never followed, and a hard link must name an existing file by a
// path without symlinks. Owners are the numeric ids of the headers, modes
// keep setuid, setgid and sticky bits, xattrs come from SCHILY.xattr PAX
// records, and directory mtimes are set after their contents are written.
// Later entries replace earlier ones with the same name, a directory
// included. dir should be empty: it receives one layer, and a whiteout
// deletes only from the layers below, so it leaves an entry this layer
// already has in place (a directory becomes opaque), and a directory that
// takes a whiteout's place becomes opaque too.
//
// On error dir holds a partial tree; callers that need all or nothing
// extract into a scratch directory and rename it, as Store.Unpack does.
func Extract(ctx context.Context, r io.Reader, dir string, opts ExtractOptions) error {
	x, err := newExtractor(dir, opts)
	if err != nil {
		return fmt.Errorf("extracting into %s: %w", dir, err)
	}
	defer x.close()

	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("extracting into %s: %w", dir, err)
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("extracting into %s: reading tar: %w", dir, err)
		}
		if err := extractEntry(x, hdr, tr); err != nil {
			return fmt.Errorf("extracting %q: %w", hdr.Name, err)
		}
	}
	if err := x.finish(); err != nil {
		return fmt.Errorf("extracting into %s: %w", dir, err)
	}
	return nil
}

// extractEntry dispatches one tar entry to the extractor.
func extractEntry(x *extractor, hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	kind, target, err := parseWhiteout(rel)
	if err != nil {
		return err
	}
	switch kind {
	case whiteoutFile:
		return x.whiteout(target, hdr)
	case whiteoutOpaqueDir:
		return x.opaque(target)
	case whiteoutMeta:
		return nil
	}
	if rel == "." && hdr.Typeflag != tar.TypeDir {
		return errors.New("the root must be a directory")
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		return x.mkdir(rel, hdr)
	case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse:
		return x.file(rel, hdr, r)
	case tar.TypeSymlink:
		return x.symlink(rel, hdr)
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		return x.link(rel, target)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return x.node(rel, hdr)
	}
	return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
}

// xattrs lists the extended attributes of a header that Extract applies:
// overlay's own are never taken from an archive, since they would change
// what the overlay mount shows.
func xattrs(hdr *tar.Header) map[string]string {
	var m map[string]string
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, xattrRecord)
		if !ok || name == "" || isOverlayXattr(name) {
			continue
		}
		if m == nil {
			m = map[string]string{}
		}
		m[name] = v
	}
	return m
}

// warn reports a problem that did not stop the extraction.
func (o ExtractOptions) warn(err error) {
	if o.Warn != nil {
		o.Warn(err)
	}
}
