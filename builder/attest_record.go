package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/patternmatcher"

	"github.com/ibuild/ibuild/builder/attest"
)

// attestLog records, while a build runs, the images it reads (FROM,
// COPY --from, RUN --mount=from), for the provenance. Its zero value is
// ready to use.
type attestLog struct {
	mu     sync.Mutex
	images []attest.Dependency
}

// image records that the build read img, named ref, for platform p.
func (l *attestLog) image(ref string, p v1.Platform, img v1.Image) {
	d, err := img.Digest()
	if err != nil {
		return // an image without a digest could not have been read
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.images = append(l.images, attest.Dependency{Ref: ref, Digest: d, Platform: p})
}

func (l *attestLog) dependencies() []attest.Dependency {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.images)
}

// contextDigest identifies the build context as COPY and ADD see it: the
// sha256 of a listing of every entry the ignore file lets through, in
// lexical order, one line each: path, type, permission bits, and the
// sha256 of a file's content or a symlink's target. Times and owners are
// left out (COPY from the context sets neither), so the same files give
// the same digest anywhere.
func (b *build) contextDigest(ctx context.Context) (v1.Hash, error) {
	if b.opts.ContextDir == "" {
		return v1.Hash{}, nil
	}
	ign, err := b.context.ignoreMatcher()
	if err != nil {
		return v1.Hash{}, err
	}
	h := sha256.New()
	err = hashContextDir(ctx, h, b.opts.ContextDir, "", ign, patternmatcher.MatchInfo{})
	if err != nil {
		return v1.Hash{}, fmt.Errorf("hashing the build context: %w", err)
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

// hashContextDir lists the directory rel of the context root into w.
func hashContextDir(ctx context.Context, w io.Writer, root, rel string, ign *pathFilter,
	parent patternmatcher.MatchInfo) error {
	entries, err := os.ReadDir(filepath.Join(root, rel))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := path.Join(rel, e.Name())
		excluded, info, err := ign.excluded(r, parent)
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if excluded && !(fi.IsDir() && ign.mayReinclude(r)) {
			continue
		}
		if !excluded {
			if err := hashContextEntry(w, root, r, fi); err != nil {
				return err
			}
		}
		if fi.IsDir() {
			if err := hashContextDir(ctx, w, root, r, ign, info); err != nil {
				return err
			}
		}
	}
	return nil
}

func hashContextEntry(w io.Writer, root, rel string, fi os.FileInfo) error {
	kind, detail := "other", ""
	switch m := fi.Mode(); {
	case m.IsDir():
		kind = "dir"
	case m.IsRegular():
		kind = "file"
		f, err := os.Open(filepath.Join(root, rel))
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		detail = hex.EncodeToString(h.Sum(nil))
	case m&os.ModeSymlink != 0:
		kind = "symlink"
		t, err := os.Readlink(filepath.Join(root, rel))
		if err != nil {
			return err
		}
		detail = t
	}
	_, err := fmt.Fprintf(w, "%q %s %o %q\n", rel, kind, unixPerm(fi.Mode()), detail)
	return err
}
