package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/registry"
)

func newTagCommand(a *app) *cobra.Command {
	f := &storeFlags{}
	cmd := &cobra.Command{
		Use:   "tag [flags] SOURCE TARGET",
		Short: "Give an image of the local store another name",
		Long: "Give the image SOURCE names (a name, a digest or an ID of at least 12 hex " +
			"digits) the name TARGET too.\nIf TARGET named another image, it moves; that " +
			"image stays, untagged, if it has no other name.",
		Example: "  ibuild tag app:1 app:latest\n" +
			"  ibuild tag 3f4c2a1b9d8e localhost:5000/team/app:1",
		Args:              exactArgs(2),
		ValidArgsFunction: completeImages(a, f),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, done, err := f.open(a, true)
			if err != nil {
				return err
			}
			defer done()
			if _, err := registry.NormalizeTag(args[1]); err != nil {
				return usageError{fmt.Errorf("%q is not a valid name: %w\nSee '%s --help'.",
					args[1], err, cmd.CommandPath())}
			}
			if _, err := findImage(st, args[0]); err != nil {
				return err
			}
			return st.Tag(args[0], args[1])
		},
	}
	f.register(cmd)
	return cmd
}
