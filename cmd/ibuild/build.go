package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/builder"
	"github.com/ibuild/ibuild/registry"
)

// runBuild is `ibuild build`: build, store, export, push, report.
func runBuild(cmd *cobra.Command, a *app, f *buildFlags, contextDir string) error {
	if fi, err := os.Stat(contextDir); err != nil || !fi.IsDir() {
		return usageError{fmt.Errorf("build context %q is not a directory\nSee '%s --help'.",
			contextDir, cmd.CommandPath())}
	}
	mode, err := f.applyConfig(cmd, a)
	if err != nil {
		return err
	}
	outputs, err := parseOutputs(f.outputs)
	if err != nil {
		return err
	}
	if err := checkTags(f.tags, f.push, outputs); err != nil {
		return err
	}
	// Enter first: the copy of ibuild in the namespaces reads the
	// Dockerfile, which may come from stdin.
	warnings, err := enterNamespaces()
	if err != nil {
		return err
	}
	opts, err := f.options(contextDir, cmd.InOrStdin())
	if err != nil {
		return err
	}
	unlock, err := lockStore(opts.Root, false)
	if err != nil {
		return err
	}
	defer unlock()
	pr, err := newProgress(mode, cmd.ErrOrStderr(), a.getenv)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		pr.warn(w)
	}
	opts.Progress = pr.event
	platforms, err := f.platforms()
	if err != nil {
		return err
	}
	res, err := builder.BuildPlatforms(cmd.Context(), opts, platforms)
	if err != nil {
		pr.finish(nil)
		var te *builder.TargetError
		if errors.As(err, &te) {
			return usageError{fmt.Errorf("--target %s: %w\nSee 'ibuild --help'.", te.Target, te.Err)}
		}
		return &sourceError{err: err, name: opts.DockerfileName, src: opts.Dockerfile}
	}
	digest, err := exportImage(cmd.Context(), pr, res.Image, builder.ExportOptions{
		Root: opts.Root, Tags: f.tags, Push: f.push, Outputs: outputs, Registry: opts.Registry,
		Index: res.Index})
	if err == nil && len(opts.CacheTo) > 0 {
		err = exportCache(cmd.Context(), pr, res, opts, f.pushedTags(outputs))
	}
	pr.finish(res.Warnings)
	if err != nil {
		return err
	}
	var artifact partial.Describable = res.Index
	id := digest // several platforms: the index is the image ID, as buildx gives it
	if res.Image != nil {
		artifact = res.Image
		if id, err = res.Image.ConfigName(); err != nil {
			return err
		}
	}
	cfgName := id
	if err := f.writeResults(artifact, digest, cfgName); err != nil {
		return err
	}
	if mode == modeQuiet {
		fmt.Fprintln(cmd.OutOrStdout(), cfgName.String())
	}
	return nil
}

func parseOutputs(in []string) ([]builder.Output, error) {
	outputs := make([]builder.Output, 0, len(in))
	for _, s := range in {
		o, err := builder.ParseOutput(s)
		if err != nil {
			return nil, usageError{err}
		}
		outputs = append(outputs, o)
	}
	return outputs, nil
}

// applyConfig fills the flags the command line left unset from the
// environment and the config file, and returns the progress mode.
func (f *buildFlags) applyConfig(cmd *cobra.Command, a *app) (string, error) {
	c, err := a.config()
	if err != nil {
		return "", err
	}
	fl := cmd.Flags()
	if f.root == "" {
		f.root = c.Root
	}
	if !fl.Changed("registry-mirror") {
		f.mirrors = c.Mirrors
	}
	if !fl.Changed("insecure-registry") {
		f.insecure = c.Insecure
	}
	mode := f.progress
	if !fl.Changed("progress") && c.Progress != "" {
		mode = c.Progress
	}
	if f.quiet {
		mode = modeQuiet
	}
	if err := checkProgressMode(mode); err != nil {
		return "", err
	}
	return mode, nil
}

func checkProgressMode(mode string) error {
	switch mode {
	case "", modeAuto, modePlain, modeTTY, modeQuiet, modeRawJSON:
		return nil
	}
	return usageError{fmt.Errorf("--progress %q: use auto, plain, tty, quiet or rawjson", mode)}
}

// exportImage runs builder.Export as a step of its own, with the upload
// progress of pushes.
func exportImage(ctx context.Context, pr *progress, img v1.Image,
	o builder.ExportOptions) (v1.Hash, error) {
	st := pr.step("exporting to image")
	o.Registry.Progress = func(sent, total int64) {
		st.status("push", "pushing layers", sent, total)
	}
	var what mutate.Appendable = img
	if img == nil {
		what = o.Index
	}
	digest, err := builder.Export(ctx, what, o)
	if err == nil && img != nil {
		if cfgName, cerr := img.ConfigName(); cerr == nil {
			st.status("", "writing image "+cfgName.String()+" done", 0, 0)
		}
		for _, t := range o.Tags {
			st.status("", "naming to "+t+" done", 0, 0)
		}
	}
	st.done(err)
	return digest, err
}

// exportCache pushes the registry cache (--cache-to) as a step of its own.
func exportCache(ctx context.Context, pr *progress, res *builder.Result, opts builder.Options,
	pushed []string) error {
	refs := make([]string, len(opts.CacheTo))
	for i, c := range opts.CacheTo {
		refs[i] = c.Ref
	}
	st := pr.step("exporting cache to " + strings.Join(refs, ", "))
	err := builder.ExportCache(ctx, res, pushed)
	st.done(err)
	return err
}

// pushedTags are the names the image was pushed to, if it was.
func (f *buildFlags) pushedTags(outputs []builder.Output) []string {
	push := f.push
	for _, o := range outputs {
		push = push || o.Type == "registry" || o.Type == "image"
	}
	if !push {
		return nil
	}
	return f.tags
}

// writeResults writes the --iidfile and --metadata-file, the latter with
// the keys buildx writes.
func (f *buildFlags) writeResults(img partial.Describable, digest, cfgName v1.Hash) error {
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(cfgName.String()), 0o644); err != nil {
			return fmt.Errorf("writing --iidfile: %w", err)
		}
	}
	if f.metadataFile == "" {
		return nil
	}
	mt, err := img.MediaType()
	if err != nil {
		return fmt.Errorf("writing --metadata-file: %w", err)
	}
	size, err := img.Size()
	if err != nil {
		return fmt.Errorf("writing --metadata-file: %w", err)
	}
	md := map[string]any{
		"containerimage.digest":        digest.String(),
		"containerimage.config.digest": cfgName.String(),
		"containerimage.descriptor": map[string]any{
			"mediaType": mt, "digest": digest.String(), "size": size,
		},
	}
	if len(f.tags) > 0 {
		md["image.name"] = strings.Join(f.tags, ",")
	}
	b, err := json.MarshalIndent(md, "", "  ")
	if err != nil {
		return fmt.Errorf("writing --metadata-file: %w", err)
	}
	if err := os.WriteFile(f.metadataFile, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing --metadata-file: %w", err)
	}
	return nil
}

// checkTags refuses, before anything is built, names that cannot be tags
// and a push with no name to push to.
func checkTags(tags []string, push bool, outputs []builder.Output) error {
	for _, t := range tags {
		if _, err := registry.NormalizeTag(t); err != nil {
			return usageError{fmt.Errorf("-t %q: %w\nSee 'ibuild --help'.", t, err)}
		}
	}
	for _, o := range outputs {
		push = push || o.Type == "registry" || o.Type == "image"
	}
	if push && len(tags) == 0 {
		return usageError{fmt.Errorf("pushing needs a name: give one with -t\nSee 'ibuild --help'.")}
	}
	return nil
}
