package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit are set at link time (make build:
// -ldflags "-X main.version=… -X main.commit=…").
var version, commit = "dev", ""

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print ibuild's version",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			rev := commit
			if info, ok := debug.ReadBuildInfo(); ok && rev == "" {
				for _, s := range info.Settings {
					if s.Key == "vcs.revision" {
						rev = s.Value
					}
				}
			}
			if rev == "" {
				rev = "unknown"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ibuild %s (commit %s, %s, %s/%s)\n",
				version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
