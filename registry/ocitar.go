package registry

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// WriteOCITar writes img as an OCI image layout in a tar archive at path
// (what `skopeo copy oci-archive:` and BuildKit's type=oci output read),
// with the same index as WriteOCILayout. Blobs are streamed into the
// archive, which is written to a temp file beside path and renamed.
func WriteOCITar(ctx context.Context, path string, img mutate.Appendable, tags []string) error {
	idx, err := outputIndex(img, tags)
	if err != nil {
		return fmt.Errorf("writing OCI archive %s: %w", path, err)
	}
	rawIndex, err := idx.RawManifest()
	if err != nil {
		return fmt.Errorf("writing OCI archive %s: %w", path, err)
	}
	return writeFileAtomic(ctx, path, "OCI archive", func(f *os.File) error {
		tw := tar.NewWriter(f)
		if err := writeTarFile(tw, "oci-layout", []byte(layoutFile)); err != nil {
			return err
		}
		if err := writeTarFile(tw, "index.json", rawIndex); err != nil {
			return err
		}
		for _, d := range []string{"blobs/", "blobs/sha256/"} {
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch()}
			if err := tw.WriteHeader(hdr); err != nil {
				return err
			}
		}
		if err := writeArtifactBlobs(ctx, tw, img, map[v1.Hash]bool{}); err != nil {
			return err
		}
		return tw.Close()
	})
}

// epoch is the modification time of the entries of an OCI archive, so the
// same image gives the same archive bytes.
func epoch() time.Time { return time.Unix(0, 0).UTC() }

func writeTarFile(tw *tar.Writer, name string, b []byte) error {
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(b)), ModTime: epoch(),
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

// writeArtifactBlobs adds the blobs of an image, or of an index and every
// image below it, under blobs/sha256, each once.
func writeArtifactBlobs(ctx context.Context, tw *tar.Writer, a mutate.Appendable,
	seen map[v1.Hash]bool) error {
	switch a := a.(type) {
	case v1.Image:
		return writeImageBlobs(ctx, tw, a, seen)
	case v1.ImageIndex:
		return forEachChild(a, func(d v1.Hash, raw []byte, child mutate.Appendable) error {
			if child == nil {
				if seen[d] {
					return nil
				}
				seen[d] = true
				return writeTarFile(tw, blobName(d), raw)
			}
			return writeArtifactBlobs(ctx, tw, child, seen)
		})
	}
	return fmt.Errorf("cannot write %T", a)
}

// writeImageBlobs adds the manifest, config and layer blobs of img under
// blobs/sha256, each once.
func writeImageBlobs(ctx context.Context, tw *tar.Writer, img v1.Image,
	seen map[v1.Hash]bool) error {
	raw, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("reading the manifest: %w", err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading the config: %w", err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("reading the config: %w", err)
	}
	if seen[digest] {
		return nil
	}
	seen[digest] = true
	if err := writeTarFile(tw, blobName(digest), raw); err != nil {
		return err
	}
	if !seen[cfgName] {
		seen[cfgName] = true
		if err := writeTarFile(tw, blobName(cfgName), cfg); err != nil {
			return err
		}
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("listing layers: %w", err)
	}
	for _, l := range layers {
		h, err := l.Digest()
		if err != nil {
			return fmt.Errorf("reading a layer digest: %w", err)
		}
		if seen[h] {
			continue
		}
		seen[h] = true
		if err := writeTarLayer(ctx, tw, h, l); err != nil {
			return err
		}
	}
	return nil
}

func blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// writeTarLayer streams one compressed layer blob into tw.
func writeTarLayer(ctx context.Context, tw *tar.Writer, h v1.Hash, l v1.Layer) error {
	size, err := l.Size()
	if err != nil {
		return fmt.Errorf("reading the size of layer %s: %w", h, err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("reading layer %s: %w", h, err)
	}
	defer rc.Close()
	hdr := &tar.Header{
		Typeflag: tar.TypeReg, Name: blobName(h), Mode: 0o644, Size: size, ModTime: epoch(),
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := io.Copy(tw, ctxReader{ctx, rc}); err != nil {
		return fmt.Errorf("copying layer %s: %w", h, err)
	}
	return nil
}

// writeFileAtomic runs fill on a temp file beside path and renames the file
// to path when fill succeeds; on failure path is left as it was.
func writeFileAtomic(ctx context.Context, path, what string, fill func(*os.File) error) error {
	dir, base := filepath.Split(filepath.Clean(path))
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("writing %s %s: %w", what, path, err)
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("writing %s %s: %w", what, path, err)
	}
	defer os.Remove(f.Name())
	err = fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s %s: %w", what, path, err)
	}
	return nil
}
