package registry

import (
	"fmt"
	"sort"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Tag gives the stored image src names (see Image) the tag dst as well. If
// dst named another image, it moves; that image stays, untagged, if no
// other tag names it.
func (s *ImageStore) Tag(src, dst string) error {
	n, err := NormalizeTag(dst)
	if err != nil {
		return err
	}
	unlock, err := s.lock("gc.lock", syscall.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	return s.update(func(ms []v1.Descriptor) ([]v1.Descriptor, error) {
		d, err := s.resolve(ms, src)
		if err != nil {
			return nil, fmt.Errorf("tagging %s as %s: %w", src, dst, err)
		}
		return setNames(ms, d, []string{n}, s.nested(d)), nil
	})
}

// RemoveOptions change what Remove does.
type RemoveOptions struct {
	// Force removes an image given by digest or ID with all its names,
	// even when they are in several repositories.
	Force bool
}

// Remove untags ref, as `docker rmi` does: a tag loses its name, and the
// image leaves the index when it has no name left. A digest removes the
// entries of that digest with all their names, and an image ID every entry
// of the image (an index and the image manifests it lists are one image),
// unless those names are in more than one repository (then each must be
// removed by name). Blobs stay until Prune. The error wraps ErrNotFound
// when there is no such image.
func (s *ImageStore) Remove(ref string) error {
	return s.RemoveWith(ref, RemoveOptions{})
}

// RemoveWith is Remove with options: o.Force removes an image given by
// digest or ID even when its names are in several repositories.
func (s *ImageStore) RemoveWith(ref string, o RemoveOptions) error {
	unlock, err := s.lock("gc.lock", syscall.LOCK_SH)
	if err != nil {
		return err
	}
	defer unlock()
	return s.update(func(ms []v1.Descriptor) ([]v1.Descriptor, error) {
		if n, err := NormalizeTag(ref); err == nil && len(withoutName(ms, n)) < len(ms) {
			return withoutName(ms, n), nil
		}
		d, err := s.resolve(ms, ref)
		if err != nil {
			return nil, fmt.Errorf("removing %s: %w", ref, err)
		}
		gone := map[v1.Hash]bool{d.Digest: true}
		if !namesDigest(ref, d.Digest) {
			if m, err := s.imageManifest(d); err == nil {
				for _, e := range s.sameID(ms, m.Config.Digest) {
					gone[e.Digest] = true
				}
			}
		}
		var names []string
		for h := range gone {
			names = append(names, namesOf(ms, h)...)
		}
		if repos := reposOf(names); len(repos) > 1 && !o.Force {
			return nil, fmt.Errorf("removing %s: %w (%s); remove its tags by name or force",
				ref, ErrConflict, strings.Join(repos, ", "))
		}
		for h := range gone {
			ms = withoutDigest(ms, h)
		}
		return ms, nil
	})
}

// namesDigest reports whether ref gives the digest h ("sha256:…" or
// "name@sha256:…") rather than an image ID.
func namesDigest(ref string, h v1.Hash) bool {
	if _, dig, ok := strings.Cut(ref, "@"); ok {
		ref = dig
	}
	return ref == h.String()
}

// reposOf lists the distinct repositories of full names, sorted.
func reposOf(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		r := repoPart(n)
		if !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	sort.Strings(out)
	return out
}
