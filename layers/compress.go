package layers

import (
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// gzipBlockSize is pgzip's block size. The output depends on it (and not on
// the number of cores), so it is fixed to keep digests reproducible.
const gzipBlockSize = 1 << 20

// zstdConcurrency is fixed for the same reason: the zstd encoder only
// promises identical output for identical options.
const zstdConcurrency = 4

func mediaTypeOf(c Compression) (types.MediaType, error) {
	switch c {
	case Gzip, "":
		return types.OCILayer, nil
	case Zstd:
		return types.OCILayerZStd, nil
	case Uncompressed:
		return types.OCIUncompressedLayer, nil
	}
	return "", fmt.Errorf("unknown compression %q", c)
}

func compressionOf(mt types.MediaType) (Compression, error) {
	switch mt {
	case types.OCILayer, types.DockerLayer:
		return Gzip, nil
	case types.OCILayerZStd:
		return Zstd, nil
	case types.OCIUncompressedLayer, types.DockerUncompressedLayer:
		return Uncompressed, nil
	}
	return "", fmt.Errorf("unsupported layer media type %q", mt)
}

// nopWriteCloser passes writes through and closes nothing: the blob file is
// closed by its owner.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// compressor returns a writer that compresses into w. Closing it flushes
// the compressed stream but leaves w open.
func compressor(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	switch c {
	case Gzip, "":
		if level == 0 {
			level = pgzip.DefaultCompression
		}
		zw, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, fmt.Errorf("gzip level %d: %w", level, err)
		}
		// A zero header (no name, mtime 0) keeps the blob reproducible.
		zw.ModTime = time.Unix(0, 0)
		if err := zw.SetConcurrency(gzipBlockSize, 2*runtime.GOMAXPROCS(0)); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zw, nil
	case Zstd:
		opts := []zstd.EOption{zstd.WithEncoderConcurrency(zstdConcurrency)}
		if level != 0 {
			opts = append(opts, zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)))
		}
		zw, err := zstd.NewWriter(w, opts...)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zw, nil
	case Uncompressed:
		return nopWriteCloser{w}, nil
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

// decompress wraps rc so that reading gives the uncompressed stream; closing
// the result closes rc too.
func decompress(rc io.ReadCloser, c Compression) (io.ReadCloser, error) {
	switch c {
	case Gzip:
		zr, err := pgzip.NewReader(rc)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return &readCloser{Reader: zr, close: func() error { zr.Close(); return rc.Close() }}, nil
	case Zstd:
		zr, err := zstd.NewReader(rc)
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return &readCloser{Reader: zr, close: func() error { zr.Close(); return rc.Close() }}, nil
	case Uncompressed:
		return rc, nil
	}
	return nil, fmt.Errorf("unknown compression %q", c)
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r *readCloser) Close() error { return r.close() }
