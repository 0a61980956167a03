package builder

import (
	"sync"
	"testing"

	"github.com/ibuild/ibuild/internal/testenv"
	"github.com/ibuild/ibuild/registry"
)

// The registry that serves busybox to this package's tests, started once.
var (
	mirrorOnce sync.Once
	mirrorAddr string
	mirrorErr  error
)

// busyboxMirror returns a loopback registry holding library/busybox:latest,
// for Options.Registry.Mirrors.
func busyboxMirror(t *testing.T) string {
	t.Helper()
	mirrorOnce.Do(func() {
		mirrorAddr, _, mirrorErr = testenv.StartRegistry()
		if mirrorErr == nil {
			testenv.PushBusybox(t, mirrorAddr, "library/busybox:latest")
		}
	})
	testenv.Check(t, mirrorErr)
	return mirrorAddr
}

// withBusybox points pulls of Docker Hub images at busyboxMirror.
func withBusybox(t *testing.T, more func(*Options)) func(*Options) {
	reg := busyboxMirror(t)
	return func(o *Options) {
		o.Registry.Mirrors = []string{reg}
		if more != nil {
			more(o)
		}
	}
}

// registryWithBusybox returns registry options that find busybox.
func registryWithBusybox(t *testing.T) registry.Options {
	return registry.Options{Mirrors: []string{busyboxMirror(t)}}
}
