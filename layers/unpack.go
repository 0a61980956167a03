package layers

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Unpack makes sure the layer is unpacked in overlay lower form at
// ROOT/unpacked/<diff ID hex> and returns that directory. A layer is
// unpacked once: callers in other goroutines or processes wait on a lock
// file and then find the finished tree. The tree is extracted into a
// scratch directory and renamed into place only when the whole stream was
// read and its sha256 matched the diff ID, so no caller ever sees half a
// tree or a tree that does not match its name.
func (s *Store) Unpack(ctx context.Context, l v1.Layer) (string, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return "", fmt.Errorf("unpacking layer: %w", err)
	}
	if err := checkHash(diffID); err != nil {
		return "", fmt.Errorf("unpacking layer: %w", err)
	}
	dst := s.UnpackedPath(diffID)
	if _, err := os.Lstat(dst); err == nil {
		return dst, nil
	}

	unlock, err := s.lock(ctx, diffID)
	if err != nil {
		return "", fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	defer unlock()
	if _, err := os.Lstat(dst); err == nil {
		return dst, nil // another caller finished it while we waited
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}

	tmp, err := os.MkdirTemp(s.dir("tmp"), "unpack-*")
	if err != nil {
		return "", fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	if err := s.unpackInto(ctx, l, diffID, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	return dst, nil
}

// unpackInto extracts l into dir and checks the uncompressed stream against
// the diff ID, reading it to the end so trailing data is hashed too.
func (s *Store) unpackInto(ctx context.Context, l v1.Layer, diffID v1.Hash, dir string) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}

	h := sha256.New()
	r := io.TeeReader(rc, h)
	// TODO: the tree does not record the options it was made with, so one
	// unpacked with LossyOwners or without device nodes (in a user
	// namespace) is reused as it is by a later run as root.
	if err := Extract(ctx, r, dir, s.UnpackOptions); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("reading layer: %w", err)
	}
	if got := sum(h); got != diffID {
		return fmt.Errorf("content does not match its diff ID: its sha256 is %s", got)
	}
	return nil
}
