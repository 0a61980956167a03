package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
	bf := &buildFlags{}
	root := &cobra.Command{
		Use:   "ibuild [flags] CONTEXT",
		Short: "Build OCI images from Dockerfiles, without a daemon and without root",
		Long: "ibuild builds an image from a Dockerfile and a build context, like " +
			"`docker build`,\nand stores it locally, writes it to a file or pushes it to a registry.",
		Example: "  ibuild -t hello examples/hello\n" +
			"  ibuild -f Dockerfile -t localhost:5000/app --push .\n" +
			"  ibuild -o type=oci,dest=out/ .\n" +
			"  ibuild -o type=docker,dest=img.tar -t app .",
		Args:          cobra.MaximumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return runBuild(cmd, bf, args[0])
		},
	}
	bf.register(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath())}
	})
	root.AddCommand(newBuildCommand(), newVersionCommand())
	return root
}

func newBuildCommand() *cobra.Command {
	bf := &buildFlags{}
	cmd := &cobra.Command{
		Use:     "build [flags] CONTEXT",
		Short:   "Build an image from a Dockerfile (the same as ibuild with no command)",
		Example: "  ibuild build -t myimg .",
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, bf, args[0])
		},
	}
	bf.register(cmd)
	return cmd
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Errorf("%q needs exactly %d argument(s), got %d\nUsage: %s",
				cmd.CommandPath(), n, len(args), cmd.UseLine())}
		}
		return nil
	}
}
