// Command ibuild builds OCI images from Dockerfiles without a daemon and
// without root.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/ibuild/ibuild/builder/sandbox"
)

// Exit codes, as documented in the README.
const (
	exitFailed = 1 // the build or command failed
	exitUsage  = 2 // the command line was wrong
)

// usageError marks errors in how ibuild was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	sandbox.Main()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand().ExecuteContext(ctx)
	stop()
	if err != nil {
		os.Exit(reportError(os.Stderr, err, colourFor(os.Stderr, os.Getenv)))
	}
}
