//go:build !linux

package sandbox

import (
	"context"
	"errors"
)

// errUnsupported is returned everywhere but on Linux, where namespaces exist.
var errUnsupported = errors.New("sandbox: running build steps needs Linux")

// Run fails: build steps need Linux namespaces and overlayfs.
func Run(ctx context.Context, spec Spec) (created []string, err error) {
	return nil, errUnsupported
}

// Main returns at once: no sandbox child exists outside Linux.
func Main() {}

// EnterUserNS fails: user namespaces exist only on Linux.
func EnterUserNS() error {
	return errUnsupported
}

// UserNSWarning returns "": there is no user namespace outside Linux.
func UserNSWarning() string { return "" }

// IDMapped reports false: there is no user namespace outside Linux.
func IDMapped() bool { return false }
