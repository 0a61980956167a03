package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/registry"
)

// archiveWriter writes images into an archive file.
type archiveWriter func(ctx context.Context, path string, imgs []registry.NamedImage) error

type saveFlags struct {
	storeFlags
	output, format string
}

func newSaveCommand(a *app) *cobra.Command {
	f := &saveFlags{}
	cmd := &cobra.Command{
		Use:   "save [flags] IMAGE [IMAGE...]",
		Short: "Write images of the local store to a tar archive",
		Long: "Write images of the local store to a tar archive: a `docker load` archive " +
			"(--format docker,\nthe default) or an OCI image layout (--format oci, what " +
			"skopeo's oci-archive: reads).\nAn image given by name is saved under that " +
			"name; one given by ID or digest, untagged.\nWithout -o the archive goes to " +
			"stdout, which must not be a terminal.",
		Example: "  ibuild save -o app.tar app:1\n" +
			"  ibuild save --format oci -o images.tar app:1 tools:2\n" +
			"  ibuild save app:1 | gzip > app.tar.gz",
		Args:              rangeArgs(1, -1),
		ValidArgsFunction: completeImages(a, &f.storeFlags),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSave(cmd, a, f, args)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&f.output, "output", "o", "", "write to this file (default stdout)")
	cmd.Flags().StringVar(&f.format, "format", "docker", "archive format: docker or oci")
	return cmd
}

func runSave(cmd *cobra.Command, a *app, f *saveFlags, args []string) error {
	var write archiveWriter = registry.WriteDockerArchive
	switch f.format {
	case "docker", "docker-archive":
	case "oci", "oci-archive":
		write = registry.WriteOCIArchive
	default:
		return usageError{fmt.Errorf("--format %q: use docker or oci", f.format)}
	}
	out := cmd.OutOrStdout()
	if f.output == "" {
		if _, tty := terminalFd(out); tty {
			return usageError{fmt.Errorf("refusing to write an archive to a terminal: " +
				"give -o FILE or redirect stdout")}
		}
	}
	st, done, err := f.open(a, true)
	if err != nil {
		return err
	}
	defer done()
	var imgs []registry.NamedImage
	for _, ref := range args {
		img, err := findImage(st, ref)
		if err != nil {
			return err
		}
		ni := registry.NamedImage{Image: img}
		if !looksLikeID(ref) {
			if _, err := registry.NormalizeTag(ref); err == nil {
				ni.Tags = []string{ref}
			}
		}
		imgs = append(imgs, ni)
	}
	if f.output != "" {
		return write(cmd.Context(), f.output, imgs)
	}
	return saveToStream(cmd, st.Root, imgs, write, out)
}

// saveToStream writes the archive to a temp file in the store and copies it
// to out, since the archive writers need a file.
func saveToStream(cmd *cobra.Command, root string, imgs []registry.NamedImage,
	write archiveWriter, out io.Writer) error {
	dir, err := os.MkdirTemp(filepath.Join(root, "tmp"), "save-")
	if err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "archive.tar")
	if err := write(cmd.Context(), path, imgs); err != nil {
		return err
	}
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	defer fh.Close()
	if _, err := io.Copy(out, fh); err != nil {
		return fmt.Errorf("writing the archive to stdout: %w", err)
	}
	return nil
}
