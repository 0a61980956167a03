package attest

import (
	"cmp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/package-url/packageurl-go"
)

// packageURL is the package URL of p, in the form scanners match
// vulnerability data with: pkg:deb/debian/NAME@VERSION?arch=…&distro=…,
// pkg:apk/alpine/NAME@VERSION?arch=…, pkg:golang/MODULE@VERSION.
func packageURL(p Package, d Distro) string {
	var ns, name string
	var q packageurl.Qualifiers
	qual := func(k, v string) {
		if v != "" {
			q = append(q, packageurl.Qualifier{Key: k, Value: v})
		}
	}
	switch p.Type {
	case TypeDeb, TypeAPK:
		ns = cmp.Or(d.ID, map[string]string{TypeDeb: "debian", TypeAPK: "alpine"}[p.Type])
		name = p.Name
		qual("arch", p.Arch)
		if d.ID != "" && d.VersionID != "" {
			qual("distro", d.ID+"-"+d.VersionID)
		}
		up := p.Source
		if up != "" && p.SourceVersion != "" {
			up += "@" + p.SourceVersion
		}
		qual("upstream", up)
	case TypeGolang:
		ns, name = splitLast(p.Name)
	default:
		name = p.Name
	}
	slices.SortFunc(q, func(a, b packageurl.Qualifier) int { return cmp.Compare(a.Key, b.Key) })
	return packageurl.NewPackageURL(p.Type, ns, name, p.Version, q, "").ToString()
}

// splitLast splits a slash-separated path at its last slash.
func splitLast(s string) (string, string) {
	if i := strings.LastIndex(s, "/"); i >= 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

// ImageURL is the package URL of an image by its name, as BuildKit writes
// in-toto subjects and provenance dependencies:
// pkg:docker/busybox@latest?platform=linux%2Famd64 for Docker Hub's
// library/busybox:latest, pkg:docker/127.0.0.1:5000/app@1?… elsewhere. A
// name with a digest gets it as the digest qualifier. p may be nil.
func ImageURL(ref string, p *v1.Platform) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", err
	}
	repo := r.Context()
	full := repo.RegistryStr() + "/" + repo.RepositoryStr()
	if repo.RegistryStr() == name.DefaultRegistry {
		full = strings.TrimPrefix(repo.RepositoryStr(), "library/")
	}
	var q packageurl.Qualifiers
	version := ""
	switch r := r.(type) {
	case name.Digest:
		q = append(q, packageurl.Qualifier{Key: "digest", Value: r.DigestStr()})
		base, _, _ := strings.Cut(ref, "@")
		if i := strings.LastIndex(base, ":"); i > strings.LastIndex(base, "/") {
			version = base[i+1:]
		}
	case name.Tag:
		version = r.TagStr()
	}
	if p != nil {
		q = append(q, packageurl.Qualifier{Key: "platform", Value: platformString(*p)})
	}
	ns, n := splitLast(full)
	return packageurl.NewPackageURL("docker", ns, n, version, q, "").ToString(), nil
}

// platformString formats p as os/arch[/variant].
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
