package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

type pruneFlags struct {
	storeFlags
	all, force bool
}

func newPruneCommand(a *app) *cobra.Command {
	f := &pruneFlags{}
	cmd := &cobra.Command{
		Use:   "prune [flags]",
		Short: "Remove unused data from the local store",
		Long: "Remove the dangling (untagged) images of the local store, as `docker image " +
			"prune` does,\nand what no image uses: blobs no image refers to, unpacked " +
			"layers that are no layer\nof a stored image, and leftover temporary files. " +
			"The build cache and the layers\nit refers to stay, so rebuilds stay fast; " +
			"--all removes the build cache and the\nRUN --mount=type=cache directories " +
			"too, as `docker builder prune --all` does.\nTagged images are removed with " +
			"'ibuild rm'. Prune waits for no build: while one\nruns, it refuses to start.",
		Example: "  ibuild prune\n" +
			"  ibuild prune --all --force",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPrune(cmd, a, f)
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVarP(&f.all, "all", "a", false,
		"remove the build cache and cache mounts too")
	cmd.Flags().BoolVarP(&f.force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

func runPrune(cmd *cobra.Command, a *app, f *pruneFlags) error {
	root, err := a.storeRoot(f.root)
	if err != nil {
		return err
	}
	if _, err := enterNamespaces(); err != nil {
		return err
	}
	if !f.force {
		what := "dangling images and unused data (blobs and unpacked layers no image uses)"
		if f.all {
			what = "dangling images, unused data and all build cache"
		}
		ok, err := confirm(cmd.InOrStdin(), cmd.ErrOrStderr(), fmt.Sprintf(
			"WARNING! This will remove %s from %s.\nAre you sure you want to continue? [y/N] ",
			what, root))
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("prune cancelled (give --force to skip the question)")
		}
	}
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(cmd.OutOrStdout(), "Total reclaimed space: 0B")
		return nil
	}
	unlock, err := lockStore(root, true)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := pruneStore(cmd.Context(), root, f.all)
	writePruneReport(cmd.OutOrStdout(), r, f.all)
	return err
}

// confirm asks question on w and reads the answer from r: y or yes.
func confirm(r io.Reader, w io.Writer, question string) (bool, error) {
	fmt.Fprint(w, question)
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return false, fmt.Errorf("reading the answer: %w", err)
	}
	if errors.Is(err, io.EOF) && line == "" {
		fmt.Fprintln(w)
	}
	a := strings.ToLower(strings.TrimSpace(line))
	return a == "y" || a == "yes", nil
}

func writePruneReport(w io.Writer, r pruneReport, all bool) {
	fmt.Fprintf(w, "%-24s %d\n", "Deleted images:", r.Images)
	fmt.Fprintf(w, "%-24s %d (%s)\n", "Deleted blobs:", r.Blobs, humanSize(r.BlobBytes))
	fmt.Fprintf(w, "%-24s %d (%s)\n", "Deleted unpacked layers:", r.Unpacked,
		humanSize(r.UnpackedBytes))
	if all {
		fmt.Fprintf(w, "%-24s %s\n", "Deleted build cache:", humanSize(r.CacheBytes))
	}
	fmt.Fprintf(w, "%-24s %s\n", "Deleted temporary files:", humanSize(r.TmpBytes))
	fmt.Fprintf(w, "Total reclaimed space: %s\n", humanSize(r.total()))
}
