package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
			"skopeo's oci-archive: reads).\nAn image index (several platforms, or an image " +
			"with attestations) is saved whole\nwith --format oci; a docker archive holds " +
			"its host-platform image only.\nAn image given by name is saved under that " +
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
	onePlatform := true
	switch f.format {
	case "docker", "docker-archive":
	case "oci", "oci-archive":
		write, onePlatform = registry.WriteOCIArchive, false
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
		ni, err := savedImage(st, ref)
		if err != nil {
			return err
		}
		if ni.Image == nil && onePlatform {
			if ni.Image, err = indexImage(st, ni.Index); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "WARNING: %s is an image index; a docker archive "+
				"holds one platform, so only the %s image is saved (use --format oci for "+
				"the whole index)\n", ref, imagePlatform(ni.Image))
		}
		imgs = append(imgs, ni)
	}
	if f.output != "" {
		return write(cmd.Context(), f.output, imgs)
	}
	return saveToStream(cmd, st.Root, imgs, write, out)
}

// savedImage is what save writes of ref: the image or, when ref names an
// index, that index (all platforms and attestations), named as ref unless
// ref is an ID or digest.
func savedImage(st *registry.ImageStore, ref string) (registry.NamedImage, error) {
	e, err := findEntry(st, ref)
	if err != nil {
		return registry.NamedImage{}, err
	}
	var ni registry.NamedImage
	if digest := e.Descriptor.Digest.String(); e.Descriptor.MediaType.IsIndex() {
		ni.Index, err = st.Index(digest)
	} else {
		ni.Image, err = findImage(st, digest)
	}
	if err != nil {
		return registry.NamedImage{}, err
	}
	if !looksLikeID(ref) {
		if _, err := registry.NormalizeTag(ref); err == nil {
			ni.Tags = []string{ref}
		}
	}
	return ni, nil
}

// indexImage is the image a stored index stands for: the host platform's,
// or its first (see registry.ImageStore.Image).
func indexImage(st *registry.ImageStore, idx v1.ImageIndex) (v1.Image, error) {
	d, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	return findImage(st, d.String())
}

// imagePlatform is the platform of img as os/arch[/variant].
func imagePlatform(img v1.Image) string {
	cf, err := img.ConfigFile()
	if err != nil {
		return "host platform's"
	}
	p := cf.Platform()
	if p == nil {
		return "host platform's"
	}
	return p.String()
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
