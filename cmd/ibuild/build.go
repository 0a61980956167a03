package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/builder"
)

// runBuild is `ibuild build`: build, store, export, push, report.
func runBuild(cmd *cobra.Command, f *buildFlags, contextDir string) error {
	if fi, err := os.Stat(contextDir); err != nil || !fi.IsDir() {
		return usageError{fmt.Errorf("build context %q is not a directory", contextDir)}
	}
	outputs := make([]builder.Output, 0, len(f.outputs))
	for _, s := range f.outputs {
		o, err := builder.ParseOutput(s)
		if err != nil {
			return usageError{err}
		}
		outputs = append(outputs, o)
	}
	opts, err := f.options(contextDir, cmd.InOrStdin())
	if err != nil {
		return err
	}
	warnings, err := enterNamespaces()
	if err != nil {
		return err
	}
	mode := f.progress
	if f.quiet {
		mode = "quiet"
	}
	pr := newProgress(mode, cmd.ErrOrStderr())
	for _, w := range warnings {
		pr.warn(w)
	}
	opts.Progress = pr.event
	res, err := builder.Build(cmd.Context(), opts)
	if err != nil {
		pr.finish(nil)
		return err
	}
	digest, err := builder.Export(cmd.Context(), res.Image, builder.ExportOptions{
		Root: opts.Root, Tags: f.tags, Push: f.push, Outputs: outputs, Registry: opts.Registry})
	pr.finish(res.Warnings)
	if err != nil {
		return err
	}
	cfgName, err := res.Image.ConfigName()
	if err != nil {
		return err
	}
	if f.iidfile != "" {
		if err := os.WriteFile(f.iidfile, []byte(cfgName.String()), 0o644); err != nil {
			return fmt.Errorf("writing --iidfile: %w", err)
		}
	}
	if f.metadataFile != "" {
		md := map[string]any{"containerimage.digest": digest.String(),
			"containerimage.config.digest": cfgName.String(), "image.name": f.tags}
		b, _ := json.MarshalIndent(md, "", "  ")
		if err := os.WriteFile(f.metadataFile, b, 0o644); err != nil {
			return fmt.Errorf("writing --metadata-file: %w", err)
		}
	}
	if mode == "quiet" {
		fmt.Fprintln(cmd.OutOrStdout(), cfgName.String())
	}
	return nil
}
