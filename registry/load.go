package registry

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// layoutBlob matches the names of blobs in an OCI layout, so that nothing
// else of an archive is ever written to disk.
var layoutBlob = regexp.MustCompile(`^blobs/[a-z0-9]+/[a-f0-9]{32,128}$`)

// ReadArchive reads the images of the archive at path: a `docker save`
// tarball, an OCI image layout tar (Docker 25 and later write both in one,
// and then the OCI layout is read, which keeps digests), either of them
// gzip-compressed, or an OCI layout directory. Work files go into a new
// directory under tmp, which the returned done removes; the images read
// from those files and from path until done is called.
//
// An index entry that is itself an index yields the image for the host
// platform. Names come from the io.containerd.image.name annotation (or a
// full name in org.opencontainers.image.ref.name) and from RepoTags.
func ReadArchive(ctx context.Context, path, tmp string) ([]NamedImage, func(), error) {
	work, err := os.MkdirTemp(tmp, "load-")
	if err != nil {
		return nil, nil, fmt.Errorf("loading %s: %w", path, err)
	}
	done := func() { os.RemoveAll(work) }
	imgs, err := readArchive(ctx, path, work)
	if err != nil {
		done()
		return nil, nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return imgs, done, nil
}

func readArchive(ctx context.Context, path, work string) ([]NamedImage, error) {
	if fi, err := os.Stat(path); err != nil {
		return nil, err
	} else if fi.IsDir() {
		return readLayoutImages(path)
	}
	tarPath, err := plainTar(path, work)
	if err != nil {
		return nil, err
	}
	names, err := tarNames(tarPath)
	if err != nil {
		return nil, err
	}
	switch {
	case names["oci-layout"] && names["index.json"]:
		dir := filepath.Join(work, "layout")
		if err := extractLayout(ctx, tarPath, dir); err != nil {
			return nil, err
		}
		return readLayoutImages(dir)
	case names["manifest.json"]:
		return readDockerArchive(tarPath)
	}
	return nil, errors.New("neither a docker archive (no manifest.json) " +
		"nor an OCI layout (no oci-layout and index.json)")
}

// plainTar returns path, or when path is gzip-compressed, the path of its
// uncompressed copy in work (the tar readers need to seek).
func plainTar(path, work string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	if magic, _ := br.Peek(2); len(magic) < 2 || magic[0] != 0x1f || magic[1] != 0x8b {
		return path, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return "", err
	}
	out := filepath.Join(work, "archive.tar")
	w, err := os.Create(out)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(w, zr)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("decompressing: %w", err)
	}
	return out, nil
}

// tarNames lists the regular files of a tar archive, without "./".
func tarNames(path string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %w", err)
		}
		if h.Typeflag == tar.TypeReg {
			names[strings.TrimPrefix(h.Name, "./")] = true
		}
	}
}

// extractLayout writes the oci-layout, index.json and blob files of the tar
// at path below dir; other entries are skipped, and no name can climb out.
func extractLayout(ctx context.Context, path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the archive: %w", err)
		}
		n := strings.TrimPrefix(h.Name, "./")
		if h.Typeflag != tar.TypeReg ||
			(n != "oci-layout" && n != "index.json" && !layoutBlob.MatchString(n)) {
			continue
		}
		if err := extractFile(ctx, tr, filepath.Join(dir, filepath.FromSlash(n))); err != nil {
			return err
		}
	}
}

func extractFile(ctx context.Context, r io.Reader, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	w, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("extracting the archive: %w", err)
	}
	_, err = io.Copy(w, ctxReader{ctx, r})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("extracting %s: %w", filepath.Base(path), err)
	}
	return nil
}

// readLayoutImages reads the images an OCI layout's index names, merging the
// names of entries for the same image.
func readLayoutImages(dir string) ([]NamedImage, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var out []NamedImage
	pos := map[v1.Hash]int{}
	for _, d := range im.Manifests {
		img, err := layoutImage(idx, d)
		if err != nil {
			return nil, err
		}
		h, err := img.Digest()
		if err != nil {
			return nil, err
		}
		i, ok := pos[h]
		if !ok {
			i = len(out)
			pos[h] = i
			out = append(out, NamedImage{Image: img})
		}
		if n := archiveName(d); n != "" {
			out[i].Tags = append(out[i].Tags, n)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the OCI layout holds no image")
	}
	return out, nil
}

// layoutImage is the image an index entry names; for a nested index, the
// image for the host platform.
func layoutImage(idx v1.ImageIndex, d v1.Descriptor) (v1.Image, error) {
	switch {
	case d.MediaType.IsImage():
		return idx.Image(d.Digest)
	case d.MediaType.IsIndex():
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, err
		}
		// TODO: load takes the host platform; a --platform flag would pass another.
		sel, err := selectManifest(cm, HostPlatform())
		if err != nil {
			return nil, err
		}
		return child.Image(sel.Digest)
	}
	return nil, fmt.Errorf("index entry %s has media type %q, which is not an image",
		d.Digest, d.MediaType)
}

// archiveName is the full image name an index entry of an archive carries.
func archiveName(d v1.Descriptor) string {
	if n := d.Annotations[AnnotationImageName]; n != "" {
		return n
	}
	r := d.Annotations[AnnotationRefName]
	if !strings.ContainsAny(r, "/:") {
		return "" // only a tag, such as "latest": no name to store it under
	}
	if _, err := NormalizeTag(r); err != nil {
		return ""
	}
	return r
}

// readDockerArchive reads the images of a `docker save` tarball.
func readDockerArchive(path string) ([]NamedImage, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, err
	}
	var out []NamedImage
	for _, d := range m {
		var tag *name.Tag
		if len(d.RepoTags) > 0 {
			t, err := name.NewTag(d.RepoTags[0])
			if err != nil {
				return nil, fmt.Errorf("tag %q in manifest.json: %w", d.RepoTags[0], err)
			}
			tag = &t
		} else if len(m) > 1 {
			// TODO: go-containerregistry's tarball package selects images
			// by tag only, so an untagged image among others cannot be read.
			return nil, errors.New("the archive holds an untagged image among others; " +
				"save the images one by one")
		}
		img, err := tarball.Image(opener, tag)
		if err != nil {
			return nil, err
		}
		out = append(out, NamedImage{Image: img, Tags: d.RepoTags})
	}
	return out, nil
}
