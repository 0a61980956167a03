package registry

import (
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHub is the registry go-containerregistry resolves short names to;
// hubAlias is the name Docker and containerd print for it.
const (
	dockerHub = name.DefaultRegistry // "index.docker.io"
	hubAlias  = "docker.io"
)

// ParseReference parses an image reference the way Docker does: "ubuntu"
// means docker.io/library/ubuntu:latest, "user/app" docker.io/user/app:latest,
// and a first component with a dot, a colon or "localhost" names a registry.
// Loopback registries and those in o.Insecure are reached over plain HTTP.
func (o Options) ParseReference(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", s, err)
	}
	host := ref.Context().RegistryStr()
	if !o.isInsecure(host) {
		return ref, nil
	}
	ref, err = name.ParseReference(s, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w", s, err)
	}
	return ref, nil
}

// NormalizeTag returns the full name of a tag, such as
// "docker.io/library/myimg:latest" for "myimg": the key of an image in the
// local store and the name containerd and BuildKit record. A reference with
// a digest is refused, since a tag must be movable.
func NormalizeTag(s string) (string, error) {
	if strings.Contains(s, "@") {
		return "", fmt.Errorf("normalizing tag %q: a tag cannot contain a digest", s)
	}
	tag, err := name.NewTag(s)
	if err != nil {
		return "", fmt.Errorf("normalizing tag %q: %w", s, err)
	}
	return fullName(tag), nil
}

// fullName is ref's name with docker.io in place of index.docker.io.
func fullName(ref name.Reference) string {
	repo := ref.Context()
	reg := repo.RegistryStr()
	if reg == dockerHub {
		reg = hubAlias
	}
	n := reg + "/" + repo.RepositoryStr()
	switch r := ref.(type) {
	case name.Tag:
		return n + ":" + r.TagStr()
	case name.Digest:
		return n + "@" + r.DigestStr()
	}
	return n
}

// FamiliarName is the short form Docker prints for a full name such as
// "docker.io/library/app:1": "app:1" (docker.io/ and then library/ are
// dropped).
func FamiliarName(full string) string { return familiar(full) }

// tagPart is the part after the last ':' of a full tag name.
func tagPart(full string) string {
	if i := strings.LastIndex(full, ":"); i >= 0 && !strings.Contains(full[i:], "/") {
		return full[i+1:]
	}
	return name.DefaultTag
}

// repoPart is a full tag name without its tag.
func repoPart(full string) string {
	if i := strings.LastIndex(full, ":"); i >= 0 && !strings.Contains(full[i:], "/") {
		return full[:i]
	}
	return full
}

// isInsecure reports whether host (host[:port]) is reached over plain HTTP.
//
// TODO: go-containerregistry also falls back to plain HTTP, after trying
// HTTPS, for RFC 1918 addresses (10/8, 172.16/12, 192.168/16), which Docker
// does not do unless asked; name.Registry has no way to turn that off.
func (o Options) isInsecure(host string) bool {
	if isLoopback(host) {
		return true
	}
	h := hostOnly(host)
	for _, entry := range o.Insecure {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if canonicalHost(entry) == canonicalHost(host) || entry == h {
			return true
		}
		if _, block, err := net.ParseCIDR(entry); err == nil {
			if ip := net.ParseIP(h); ip != nil && block.Contains(ip) {
				return true
			}
		}
	}
	return false
}

// isLoopback reports whether host names this machine: localhost,
// 127.0.0.0/8 or ::1, with any port.
func isLoopback(host string) bool {
	h := hostOnly(host)
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// hostOnly strips the port and IPv6 brackets from host[:port].
func hostOnly(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return strings.Trim(host, "[]")
}

// canonicalHost maps the names of Docker Hub to one spelling.
func canonicalHost(host string) string {
	if host == hubAlias || host == "registry-1.docker.io" {
		return dockerHub
	}
	return host
}
