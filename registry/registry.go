// Package registry resolves image references, pulls and pushes images
// (mirrors, insecure hosts, keychain auth), keeps the local image store as an
// OCI image layout, and writes images out as OCI layouts and tarballs.
//
// Everything that speaks to a registry or reads and writes image formats is
// delegated to go-containerregistry; this package adds the policy around it:
// Docker's short-name rules, which hosts use plain HTTP, mirror fallback,
// platform selection, and atomic, locked updates of the store on disk.
package registry

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ErrNotFound is returned (wrapped) when an image or tag is not in the local
// image store.
var ErrNotFound = errors.New("image not found")

// ErrConflict is returned (wrapped) when Remove is asked to remove, by ID
// or digest, an image whose tags are in more than one repository, as
// `docker rmi` refuses to.
var ErrConflict = errors.New("image is referenced in several repositories")

// Options says how to reach registries. The zero value pulls for the host
// platform from the registries named in the references, with the default
// keychain and transport.
type Options struct {
	// Mirrors are hosts (host[:port]) tried in order before docker.io for
	// docker.io images, with the same repository path. A mirror that does
	// not have the image, or cannot be reached, is skipped.
	Mirrors []string
	// Insecure lists hosts (host, host:port or a CIDR) reached over plain
	// HTTP. Loopback hosts (localhost, 127.0.0.0/8, ::1) always are.
	Insecure []string
	// Keychain finds credentials; nil means authn.DefaultKeychain
	// (~/.docker/config.json and the credential helpers it names).
	Keychain authn.Keychain
	// Platform selects an image from a multi-platform index; nil means the
	// host platform (linux/GOARCH, with the variant for arm).
	Platform *v1.Platform
	// Transport carries the HTTP requests; nil means remote.DefaultTransport.
	Transport http.RoundTripper
	// Jobs is how many blobs are pushed at once; 0 means 4.
	Jobs int
	// Progress, when set, is called as a Push uploads, with the bytes sent
	// so far and the total known so far.
	Progress func(sent, total int64)
	// StallTimeout is how long a registry may leave a request without an
	// answer, or a download without a byte, before the attempt fails and
	// is retried; 0 means DefaultStallTimeout. See resilientTransport.
	StallTimeout time.Duration

	// upstream replaces index.docker.io as the last registry tried for
	// docker.io images; tests point it at a loopback registry.
	upstream string
}

const defaultJobs = 4

func (o Options) keychain() authn.Keychain {
	if o.Keychain != nil {
		return o.Keychain
	}
	return authn.DefaultKeychain
}

func (o Options) platform() v1.Platform {
	if o.Platform != nil {
		return *o.Platform
	}
	return HostPlatform()
}

// remoteOptions are the go-containerregistry options every request uses.
func (o Options) remoteOptions(ctx context.Context) []remote.Option {
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = defaultJobs
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.keychain()),
		remote.WithTransport(o.resilient(o.httpTransport())),
		remote.WithJobs(jobs),
		remote.WithPlatform(o.platform()),
		remote.WithUserAgent("ibuild"),
	}
}

// HostPlatform is the platform images are pulled for by default: linux, the
// architecture this binary was built for, and for arm its variant.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = armVariant()
	}
	return p
}
