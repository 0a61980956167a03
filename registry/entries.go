package registry

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The functions here are the pure part of index updates: they take the
// index entries and return new ones, never touching the input slice.
//
// An image is one or more entries with the same manifest digest: one per
// full name (containerd's layout), or a single entry without a name when it
// has none (Docker's <none>:<none>).

// namedEntry is an index entry for desc under the full name n.
func namedEntry(desc v1.Descriptor, n string) v1.Descriptor {
	return v1.Descriptor{
		MediaType: desc.MediaType,
		Size:      desc.Size,
		Digest:    desc.Digest,
		Annotations: map[string]string{
			AnnotationImageName: n,
			AnnotationRefName:   tagPart(n),
		},
	}
}

// bareEntry is an index entry for desc without a name.
func bareEntry(desc v1.Descriptor) v1.Descriptor {
	return v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest}
}

// setNames points each of names at desc. An image that loses its last name
// to desc stays as an entry without a name, unless nested reports that it
// and desc are one image (an index and an image manifest it lists); with no
// names at all, desc itself is kept as such an entry unless it already has
// one.
func setNames(ms []v1.Descriptor, desc v1.Descriptor, names []string,
	nested func(v1.Descriptor) bool) []v1.Descriptor {
	taken := make(map[string]bool, len(names))
	for _, n := range names {
		taken[n] = true
	}
	out := make([]v1.Descriptor, 0, len(ms)+len(names)+1)
	var moved []v1.Descriptor
	for _, d := range ms {
		if n := entryName(d); n != "" && taken[n] {
			if d.Digest != desc.Digest {
				moved = append(moved, d)
			}
			continue
		}
		out = append(out, d)
	}
	for _, n := range names {
		out = append(out, namedEntry(desc, n))
	}
	if len(names) == 0 {
		out = append(out, bareEntry(desc))
	}
	for _, d := range moved {
		if !hasDigest(out, d.Digest) && !nested(d) {
			out = append(out, bareEntry(d))
		}
	}
	return compact(out)
}

// withoutName drops the entry for the full name n.
func withoutName(ms []v1.Descriptor, n string) []v1.Descriptor {
	out := make([]v1.Descriptor, 0, len(ms))
	for _, d := range ms {
		if entryName(d) != n {
			out = append(out, d)
		}
	}
	return out
}

// namedOnly drops the entries without a name.
func namedOnly(ms []v1.Descriptor) []v1.Descriptor {
	out := make([]v1.Descriptor, 0, len(ms))
	for _, d := range ms {
		if entryName(d) != "" {
			out = append(out, d)
		}
	}
	return out
}

// withoutDigest drops every entry of the image h.
func withoutDigest(ms []v1.Descriptor, h v1.Hash) []v1.Descriptor {
	out := make([]v1.Descriptor, 0, len(ms))
	for _, d := range ms {
		if d.Digest != h {
			out = append(out, d)
		}
	}
	return out
}

// compact keeps the first entry of each name, and an unnamed entry only for
// images that have no named one (and then only one).
func compact(ms []v1.Descriptor) []v1.Descriptor {
	named := map[v1.Hash]bool{}
	for _, d := range ms {
		if entryName(d) != "" {
			named[d.Digest] = true
		}
	}
	seenName := map[string]bool{}
	seenBare := map[v1.Hash]bool{}
	out := make([]v1.Descriptor, 0, len(ms))
	for _, d := range ms {
		n := entryName(d)
		switch {
		case n != "" && seenName[n]:
			continue
		case n != "":
			seenName[n] = true
		case named[d.Digest] || seenBare[d.Digest]:
			continue
		default:
			seenBare[d.Digest] = true
		}
		out = append(out, d)
	}
	return out
}

func hasDigest(ms []v1.Descriptor, h v1.Hash) bool {
	for _, d := range ms {
		if d.Digest == h {
			return true
		}
	}
	return false
}

// namesOf lists the full names of the image h, in index order.
func namesOf(ms []v1.Descriptor, h v1.Hash) []string {
	var out []string
	for _, d := range ms {
		if n := entryName(d); n != "" && d.Digest == h {
			out = append(out, n)
		}
	}
	return out
}
