package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/registry"
)

type loadFlags struct {
	storeFlags
	input string
	quiet bool
}

func newLoadCommand(a *app) *cobra.Command {
	f := &loadFlags{}
	cmd := &cobra.Command{
		Use:   "load [flags]",
		Short: "Load images from a tar archive into the local store",
		Long: "Load the images of a tar archive into the local store: a `docker save` " +
			"archive, an OCI\nimage layout tar (as `ibuild save --format oci`, BuildKit's " +
			"type=oci output or skopeo's\noci-archive: write), either maybe gzip-compressed, " +
			"or an OCI layout directory.\nImages keep their names; without -i the archive " +
			"is read from stdin.",
		Example: "  ibuild load -i app.tar\n" +
			"  gunzip -c app.tar.gz | ibuild load\n" +
			"  ibuild load -i out/oci-layout-dir",
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLoad(cmd, a, f)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&f.input, "input", "i", "", "read from this file or OCI layout "+
		"directory (default stdin)")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "print nothing")
	return cmd
}

func runLoad(cmd *cobra.Command, a *app, f *loadFlags) error {
	in := cmd.InOrStdin()
	if f.input == "" {
		if _, tty := terminalFd(in); tty {
			return usageError{fmt.Errorf("no archive to load: give -i FILE or pipe one " +
				"to stdin\nSee 'ibuild load --help'.")}
		}
	}
	st, done, err := f.open(a, true)
	if err != nil {
		return err
	}
	defer done()
	tmp := filepath.Join(st.Root, "tmp")
	path := f.input
	if path == "" {
		spool, err := spoolStdin(in, tmp)
		if err != nil {
			return err
		}
		defer os.Remove(spool)
		path = spool
	}
	imgs, release, err := registry.ReadArchive(cmd.Context(), path, tmp)
	if err != nil {
		return err
	}
	defer release()
	out := cmd.OutOrStdout()
	if f.quiet {
		out = io.Discard
	}
	for _, ni := range imgs {
		if err := st.Save(cmd.Context(), ni.Image, ni.Tags); err != nil {
			return err
		}
		for _, t := range ni.Tags {
			n, err := registry.NormalizeTag(t)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Loaded image: %s\n", registry.FamiliarName(n))
		}
		if len(ni.Tags) == 0 {
			id, err := ni.Image.ConfigName()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Loaded image ID: %s\n", id)
		}
	}
	return nil
}

// spoolStdin copies the archive on stdin to a file under tmp, since the
// archive readers need to seek.
func spoolStdin(in io.Reader, tmp string) (string, error) {
	f, err := os.CreateTemp(tmp, "load-stdin-*.tar")
	if err != nil {
		return "", fmt.Errorf("reading the archive from stdin: %w", err)
	}
	_, err = io.Copy(f, in)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("reading the archive from stdin: %w", err)
	}
	return f.Name(), nil
}
