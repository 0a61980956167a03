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
		"remove an image named in several repositories by its ID, with all its names")
	return cmd
}

// removeImage removes ref and prints what happened, as docker rmi does:
// "Untagged: app:1" for each name that went, "Deleted: sha256:…" when the
// image left the store.
func removeImage(out io.Writer, st *registry.ImageStore, ref string, force bool) error {
	img, err := findImage(st, ref)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	id, err := img.ConfigName()
	if err != nil {
		return err
	}
	before, err := namesOf(st, digest)
	if err != nil {
		return err
	}
	err = st.Remove(ref)
	if errors.Is(err, registry.ErrConflict) && force {
		for _, n := range before {
			if err = st.Remove(n); err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	after, err := namesOf(st, digest)
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
	if gone, _ := st.Image(digest.String()); gone == nil {
		fmt.Fprintf(out, "Deleted: %s\n", id)
	}
	return nil
}
