package builder

import (
	"context"
	_ "crypto/sha256" // go-digest verifies sha256 checksums with it
	_ "crypto/sha512"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/ibuild/ibuild/layers"
)

// isHTTPSource reports whether src is a remote URL ADD downloads.
func isHTTPSource(src string) bool {
	return (strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")) &&
		!isGitSource(src)
}

// isGitSource reports whether src names a Git repository, as BuildKit
// tells them: git@, git:// and ssh:// URLs, github.com/ paths and http(s)
// URLs whose path ends in ".git" (a "#ref" may follow).
func isGitSource(src string) bool {
	for _, p := range []string{"git@", "git://", "ssh://", "github.com/"} {
		if strings.HasPrefix(src, p) {
			return true
		}
	}
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		return false
	}
	u, err := url.Parse(src)
	return err == nil && strings.HasSuffix(u.Path, ".git")
}

// copyItems resolves the sources of a COPY or ADD (not --parents) into
// items, downloading remote files into the store's tmp folder (their
// paths are returned, for removal once the layer is written).
func (s *state) copyItems(ctx context.Context, req *copyRequest, src *srcRoot) (
	items []srcItem, temps []string, err error) {
	for _, p := range req.srcs {
		if isHTTPSource(p) {
			it, err := s.download(ctx, p, req.checksum)
			if it.host != "" {
				temps = append(temps, it.host)
			}
			if err != nil {
				return nil, temps, err
			}
			if req.unpack != nil && *req.unpack {
				if it.archive, err = layers.IsArchiveFile(it.host); err != nil {
					return nil, temps, err
				}
			}
			items = append(items, it)
			continue
		}
		found, err := src.resolve(p)
		if err != nil {
			return nil, temps, err
		}
		for i := range found {
			if req.add && (req.unpack == nil || *req.unpack) && found[i].fi.Mode().IsRegular() {
				if found[i].archive, err = layers.IsArchiveFile(found[i].host); err != nil {
					return nil, temps, fmt.Errorf("reading %q: %w", "/"+found[i].rel, err)
				}
			}
		}
		items = append(items, found...)
	}
	for _, h := range req.heredocs {
		items = append(items, srcItem{name: h.Path,
			fixed: &fixedFile{data: []byte(h.Data), mode: 0o644, mtime: s.created}})
	}
	return items, temps, nil
}

// download fetches a remote ADD source into a temporary file, verifying
// checksum ("sha256:…") when given. The file keeps the name of the URL's
// last path element, mode 0600 and the time of its Last-Modified header.
func (s *state) download(ctx context.Context, rawURL, checksum string) (srcItem, error) {
	var want digest.Digest
	if checksum != "" {
		d, err := digest.Parse(checksum)
		if err != nil {
			return srcItem{}, fmt.Errorf("parsing --checksum %q: %w", checksum, err)
		}
		want = d
	}
	s.step.status("downloading " + rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return srcItem{}, fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return srcItem{}, fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return srcItem{}, fmt.Errorf("downloading %s: %s", rawURL, resp.Status)
	}
	f, err := os.CreateTemp(filepath.Join(s.b.opts.Root, "tmp"), "add-*")
	if err != nil {
		return srcItem{}, fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	it := srcItem{host: f.Name(), name: urlFileName(rawURL)}
	dg := digest.Canonical.Digester()
	if want != "" {
		dg = want.Algorithm().Digester()
	}
	_, err = io.Copy(io.MultiWriter(f, dg.Hash()), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return it, fmt.Errorf("downloading %s: %w", rawURL, err)
	}
	if want != "" && dg.Digest() != want {
		return it, fmt.Errorf("downloading %s: checksum mismatch: expected %s, got %s",
			rawURL, want, dg.Digest())
	}
	mtime := s.created
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = t
	}
	it.fixed = &fixedFile{mode: 0o600, mtime: mtime}
	if it.fi, err = os.Lstat(it.host); err != nil {
		return it, err
	}
	return it, nil
}

// urlFileName is the name BuildKit gives a download: the last element of
// the URL's path, or "__unnamed__".
func urlFileName(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "__unnamed__"
	}
	if base := path.Base(u.Path); base != "." && base != "/" {
		return base
	}
	return "__unnamed__"
}

// extract writes the entries of a local archive below the destination,
// which is a directory whatever its spelling (as in BuildKit). Entries
// keep their owners unless --chown is given.
func (c *copier) extract(it *srcItem, d *destination, epoch *time.Time) error {
	if d.exists && d.isFile {
		return fmt.Errorf("cannot copy to non-directory: /%s", d.rel)
	}
	if err := c.ensureDir(d.rel, time.Time{}); err != nil {
		return err
	}
	f, err := os.Open(it.host)
	if err != nil {
		return fmt.Errorf("opening archive %q: %w", "/"+it.rel, err)
	}
	defer f.Close()
	opts := layers.ArchiveOptions{Epoch: epoch}
	if c.chown != nil {
		opts.Chown = &layers.Owner{UID: c.chown.uid, GID: c.chown.gid}
	}
	if err := layers.CopyArchive(c.tw, f, "/"+d.rel, opts); err != nil {
		return fmt.Errorf("extracting %q: %w", "/"+it.rel, err)
	}
	return nil
}
