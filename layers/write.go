package layers

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// WriteLayer writes a new layer blob into the store in one pass: fill writes
// tar entries, which are hashed (the diff ID), compressed, hashed again (the
// digest) and written to a temporary file that is then renamed into
// ROOT/blobs/sha256. fill must not close tw. With opts.Epoch set, every
// timestamp fill writes is clamped to at most the epoch.
func (s *Store) WriteLayer(ctx context.Context, opts WriteOptions,
	fill func(tw *tar.Writer) error) (Desc, error) {
	produce := func(w io.Writer) error {
		tw := tar.NewWriter(w)
		if err := fill(tw); err != nil {
			return err
		}
		return tw.Close()
	}
	if opts.Epoch != nil {
		epoch := *opts.Epoch
		produce = func(w io.Writer) error { return clampStream(w, epoch, fill) }
	}
	var d Desc
	var err error
	if opts.Compression == Estargz {
		d, err = s.writeEstargz(ctx, opts, produce)
	} else {
		d, err = s.writeBlob(ctx, opts, produce)
	}
	if err != nil {
		return Desc{}, fmt.Errorf("writing layer: %w", err)
	}
	return d, nil
}

// WriteEntries writes a layer holding entries, in the order given. Each
// regular file's content comes from its Source path or Open function.
func (s *Store) WriteEntries(ctx context.Context, opts WriteOptions,
	entries []Entry) (Desc, error) {
	var epoch *clamp
	if opts.Epoch != nil {
		epoch = &clamp{*opts.Epoch}
		opts.Epoch = nil // clamped here, no need to re-read the stream
	}
	return s.WriteLayer(ctx, opts, func(tw *tar.Writer) error {
		for i := range entries {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := writeEntry(tw, &entries[i], epoch); err != nil {
				return err
			}
		}
		return nil
	})
}

func writeEntry(tw *tar.Writer, e *Entry, epoch *clamp) error {
	hdr := e.Header
	epoch.header(&hdr)
	if err := tw.WriteHeader(&hdr); err != nil {
		return fmt.Errorf("writing %s: %w", hdr.Name, err)
	}
	if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
		return nil
	}
	var rc io.ReadCloser
	var err error
	switch {
	case e.Open != nil:
		rc, err = e.Open()
	case e.Source != "":
		rc, err = os.Open(e.Source)
	default:
		err = errors.New("no content source")
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", hdr.Name, err)
	}
	defer rc.Close()
	n, err := io.CopyN(tw, rc, hdr.Size)
	if err == io.EOF {
		err = fmt.Errorf("content has %d bytes, header says %d", n, hdr.Size)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", hdr.Name, err)
	}
	return nil
}

// writeBlob runs produce into the hash-compress-hash-file pipeline and
// renames the finished file into the blob folder.
func (s *Store) writeBlob(ctx context.Context, opts WriteOptions,
	produce func(w io.Writer) error) (d Desc, err error) {
	mt, err := mediaTypeOf(opts.Compression)
	if err != nil {
		return Desc{}, err
	}
	f, err := os.CreateTemp(s.dir("tmp"), "blob-*")
	if err != nil {
		return Desc{}, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	buf := bufio.NewWriterSize(f, 1<<20)
	digest, size := sha256.New(), &counter{}
	zw, err := compressor(io.MultiWriter(buf, digest, size), opts.Compression, opts.Level)
	if err != nil {
		return Desc{}, err
	}
	diffID := sha256.New()
	if err := produce(&ctxWriter{ctx: ctx, w: io.MultiWriter(zw, diffID)}); err != nil {
		zw.Close()
		return Desc{}, err
	}
	if err := zw.Close(); err != nil {
		return Desc{}, err
	}
	if err := buf.Flush(); err != nil {
		return Desc{}, err
	}
	if err := f.Chmod(0o644); err != nil {
		return Desc{}, err
	}
	if err := f.Close(); err != nil {
		return Desc{}, err
	}

	d = Desc{Digest: sum(digest), DiffID: sum(diffID), Size: size.n, MediaType: mt}
	if err := os.Rename(f.Name(), s.BlobPath(d.Digest)); err != nil {
		return Desc{}, err
	}
	return d, nil
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// ctxWriter stops a long write when ctx is cancelled.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
