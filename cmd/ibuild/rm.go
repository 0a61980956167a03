package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/registry"
)

type rmFlags struct {
	storeFlags
	force bool
}

func newRmCommand(a *app) *cobra.Command {
	f := &rmFlags{}
	cmd := &cobra.Command{
		Use:     "rm [flags] IMAGE [IMAGE...]",
		Aliases: []string{"rmi"},
		Short:   "Remove images from the local store",
		Long: "Remove images from the local store, as `docker rmi` does: a name is " +
			"untagged, and the image\ngoes when it has no name left. An ID or digest removes " +
			"the image with all its names,\nunless they are in several repositories (then " +
			"give --force). The space is\nreclaimed by 'ibuild prune'.",
		Example: "  ibuild rm app:1\n" +
			"  ibuild rmi 3f4c2a1b9d8e\n" +
			"  ibuild rm $(ibuild images -q --filter dangling=true)",
		Args:              rangeArgs(1, -1),
		ValidArgsFunction: completeImages(a, &f.storeFlags),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, done, err := f.open(a, true)
			if err != nil {
				return err
			}
			defer done()
			var failed error
			for _, ref := range args {
				if err := removeImage(cmd.OutOrStdout(), st, ref, f.force); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "ERROR:", err)
					failed = errors.New("some images were not removed")
				}
			}
			return failed
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&f.force, "force", "f", false,
		"remove an image given by ID or digest with all its names, even in several "+
			"repositories")
	return cmd
}

// removeImage removes ref and prints what happened, as docker rmi does:
// "Untagged: app:1" for each name that went, "Deleted: sha256:…" when no
// entry of the image (by image ID: an index and the image manifests it
// lists are one image) is left in the store.
func removeImage(out io.Writer, st *registry.ImageStore, ref string, force bool) error {
	e, err := findEntry(st, ref)
	if err != nil {
		return err
	}
	before, _, err := imageNames(st, e.ID)
	if err != nil {
		return err
	}
	if err := st.RemoveWith(ref, registry.RemoveOptions{Force: force}); err != nil {
		return err
	}
	after, present, err := imageNames(st, e.ID)
	if err != nil {
		return err
	}
	left := map[string]bool{}
	for _, n := range after {
		left[n] = true
	}
	for _, n := range before {
		if !left[n] {
			fmt.Fprintf(out, "Untagged: %s\n", registry.FamiliarName(n))
		}
	}
	if !present {
		fmt.Fprintf(out, "Deleted: %s\n", e.ID)
	}
	return nil
}
