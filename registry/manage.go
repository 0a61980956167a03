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
		return setNames(ms, d, []string{n}), nil
	})
}

// Remove untags ref, as `docker rmi` does: a tag loses its name, and the
// image leaves the index when it has no name left. A digest or image ID
// removes the image with all its names, unless those names are in more than
// one repository (then each must be removed by name). Blobs stay until
// Prune. The error wraps ErrNotFound when there is no such image.
func (s *ImageStore) Remove(ref string) error {
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
		if repos := reposOf(namesOf(ms, d.Digest)); len(repos) > 1 {
			return nil, fmt.Errorf("removing %s: %w (%s); remove its tags by name",
				ref, ErrConflict, strings.Join(repos, ", "))
		}
		return withoutDigest(ms, d.Digest), nil
	})
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
