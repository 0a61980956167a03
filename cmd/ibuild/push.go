package main

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/registry"
)

type pushFlags struct {
	storeFlags
	insecure []string
	progress string
	quiet    bool
}

func newPushCommand(a *app) *cobra.Command {
	f := &pushFlags{}
	cmd := &cobra.Command{
		Use:   "push [flags] IMAGE [DESTINATION]",
		Short: "Push an image from the local store to a registry",
		Long: "Push an image of the local store to a registry: to its own name, or to " +
			"DESTINATION.\nAn image index (several platforms, or an image with its SBOM or " +
			"provenance) goes\nwhole, as with 'ibuild build --push'. Blobs the registry has " +
			"already are not sent\nagain. Credentials come from ~/.docker/config.json (see " +
			"ibuild login).",
		Example: "  ibuild push localhost:5000/app:1\n" +
			"  ibuild push app:1 registry.example.com/team/app:1\n" +
			"  ibuild push --insecure-registry 10.0.0.5:5000 app 10.0.0.5:5000/app",
		Args:              rangeArgs(1, 2),
		ValidArgsFunction: completeImages(a, &f.storeFlags),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPush(cmd, a, f, args)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&f.insecure, "insecure-registry", nil,
		"registry HOST[:PORT] reached over plain HTTP (repeatable)")
	fl.StringVar(&f.progress, "progress", "auto",
		"progress output: auto, plain, tty, quiet, rawjson")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only the digest line")
	return cmd
}

func runPush(cmd *cobra.Command, a *app, f *pushFlags, args []string) error {
	c, err := a.config()
	if err != nil {
		return err
	}
	if !cmd.Flags().Changed("insecure-registry") {
		f.insecure = c.Insecure
	}
	mode := f.progress
	if !cmd.Flags().Changed("progress") && c.Progress != "" {
		mode = c.Progress
	}
	if f.quiet {
		mode = modeQuiet
	}
	if err := checkProgressMode(mode); err != nil {
		return err
	}
	st, done, err := f.open(a, true)
	if err != nil {
		return err
	}
	defer done()
	src := args[0]
	e, err := findEntry(st, src)
	if err != nil {
		return err
	}
	dst := src
	if len(args) == 2 {
		dst = args[1]
	} else if _, err := registry.NormalizeTag(src); err != nil || looksLikeID(src) {
		return usageError{fmt.Errorf("%s is not a name to push to: give one, as in "+
			"'ibuild push %s REGISTRY/REPOSITORY:TAG'", src, src)}
	}
	pr, err := newProgress(mode, cmd.ErrOrStderr(), a.getenv)
	if err != nil {
		return err
	}
	step := pr.step("pushing " + dst)
	o := registry.Options{Insecure: f.insecure, Progress: func(sent, total int64) {
		step.status("push", "pushing layers", sent, total)
	}}
	digest, size, err := pushEntry(cmd.Context(), st, e, dst, o)
	step.done(err)
	pr.finish(nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: digest: %s size: %d\n", dst, digest, size)
	return nil
}

// pushEntry pushes the store entry e to dst: an image, or an index with
// every platform and attestation manifest it lists, as `build --push`
// does. It returns the digest and size of the manifest pushed.
func pushEntry(ctx context.Context, st *registry.ImageStore, e registry.Entry, dst string,
	o registry.Options) (v1.Hash, int64, error) {
	ref := e.Descriptor.Digest.String()
	if e.Descriptor.MediaType.IsIndex() {
		idx, err := st.Index(ref)
		if err != nil {
			return v1.Hash{}, 0, err
		}
		d, err := registry.PushIndex(ctx, idx, dst, o)
		return d, e.Descriptor.Size, err
	}
	img, err := st.Image(ref)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	d, err := registry.Push(ctx, img, dst, o)
	return d, e.Descriptor.Size, err
}

// looksLikeID reports whether s is an image ID or digest rather than a
// name: "sha256:…" or 12 to 64 hex digits.
func looksLikeID(s string) bool {
	if len(s) > 7 && s[:7] == "sha256:" {
		return true
	}
	if len(s) < 12 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
