// Package sandbox runs one build step (a Dockerfile RUN) in isolation: an overlay
// root filesystem over read-only lower layers, fresh mount, PID, UTS and IPC
// namespaces (and a network namespace for NetworkNone), /proc, /dev, /sys,
// /etc/hosts and /etc/resolv.conf provided, and the command run as the requested
// user. It also moves an unprivileged ibuild into a user namespace (EnterUserNS) so
// that the same code works with and without root.
//
// The sandbox re-executes the running binary (/proc/self/exe) for its child, so
// every program that calls Run must call Main first thing in its main function.
// The package knows nothing about Dockerfiles.
package sandbox

import (
	"errors"
	"fmt"
	"io"
)

// Network selects the network a step sees.
type Network string

const (
	// NetworkHost shares the network namespace of ibuild (the default, as in BuildKit).
	NetworkHost Network = "host"
	// NetworkNone gives the step a network namespace with only a loopback interface.
	NetworkNone Network = "none"
)

// DefaultHostname is the host name a step sees when Spec.Hostname is empty.
const DefaultHostname = "buildkitsandbox"

// DefaultPath is the PATH used to find the command, and given to it, when Spec.Env
// has no PATH.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Mount is an extra mount inside the step's root filesystem.
type Mount struct {
	// Type is "bind" or "tmpfs".
	Type string
	// Source is the host path of a bind mount; unused for tmpfs.
	Source string
	// Target is the absolute path inside the step's root. It is created (a directory,
	// or an empty file for a bind of a file) when missing and then reported by Run.
	Target string
	// ReadOnly makes the mount read-only (recursively for a bind).
	ReadOnly bool
	// Options are extra tmpfs options such as "size=64m" or "mode=1777", and the
	// flags nosuid, nodev, noexec for either type.
	Options []string
}

// Spec describes one step to run.
type Spec struct {
	// Lowers are the overlay lower directories, top-most first (overlay's order),
	// in overlay-lower form. Empty means an empty root (FROM scratch).
	Lowers []string
	// Upper is the overlay upper directory that receives the step's changes.
	Upper string
	// RootDir, when set, is a complete root filesystem the step runs in and
	// changes in place, with no overlay: the copy fallback for systems that
	// cannot mount overlayfs. Lowers and Upper are then ignored.
	RootDir string
	// Work is a scratch directory on the same filesystem as Upper, empty or missing.
	// The sandbox puts the overlay work directory and its own small files (the
	// generated /etc/hosts and /etc/resolv.conf, the mount point of the root) in it;
	// the caller removes it after Run returns.
	Work string
	// Args is the command. Args[0] is looked up in the PATH of Env inside the root
	// unless it contains a slash.
	Args []string
	// Env is the command's environment. PATH is added (DefaultPath) when missing.
	Env []string
	// Cwd is the absolute working directory inside the root; created (owned by root)
	// when missing, as Docker does. Empty means "/".
	Cwd string
	// UID, GID and AdditionalGIDs are the numeric user the command runs as.
	UID, GID       uint32
	AdditionalGIDs []uint32
	// Hostname is the host name the step sees; empty means DefaultHostname.
	Hostname string
	// Network is NetworkHost when empty.
	Network Network
	// Mounts are extra mounts, applied after the standard ones in order.
	Mounts []Mount
	// Stdin is the command's standard input; nil means /dev/null.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output as it is written; nil discards.
	Stdout, Stderr io.Writer
}

// ExitError reports that the command ran and exited with a non-zero status.
// A command killed by signal N has Code 128+N, as a shell reports it.
type ExitError struct {
	Code int
}

// Error returns "exit code: N".
func (e *ExitError) Error() string { return fmt.Sprintf("exit code: %d", e.Code) }

// ErrCommandNotFound is wrapped by the error Run returns when Args[0] is not an
// executable file in the PATH of the step.
var ErrCommandNotFound = errors.New("executable file not found")
