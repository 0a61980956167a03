package main

import (
	"encoding/json"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/registry"
)

// inspectResult is what `ibuild inspect` prints of an image: the fields of
// `docker image inspect` (the same names, so the same --format templates
// work) and the manifest.
type inspectResult struct {
	Id           string // Docker's spelling, for {{.Id}} in templates
	RepoTags     []string
	RepoDigests  []string
	Digest       string
	Created      time.Time
	Author       string `json:",omitempty"`
	Architecture string
	Os           string
	Variant      string `json:",omitempty"`
	Size         int64
	Config       v1.Config
	RootFS       inspectRootFS
	History      []v1.History
	Manifest     *v1.Manifest
}

// inspectRootFS is the RootFS of `docker image inspect`: the layers by
// diff ID, under Docker's field names (the config's are type and diff_ids).
type inspectRootFS struct {
	Type   string
	Layers []string `json:",omitempty"`
}

type inspectFlags struct {
	storeFlags
	format           string
	sbom, provenance bool
}

func newInspectCommand(a *app) *cobra.Command {
	f := &inspectFlags{}
	cmd := &cobra.Command{
		Use:   "inspect [flags] IMAGE [IMAGE...]",
		Short: "Show the config and manifest of images in the local store",
		Long: "Print a JSON array with an object per image: the fields of `docker image " +
			"inspect`\n(Id, RepoTags, Created, Config, RootFS, History, …) and the image " +
			"Manifest.",
		Example: "  ibuild inspect app:1\n" +
			"  ibuild inspect --format '{{.Id}}' app:1\n" +
			"  ibuild inspect --format '{{json .Config.Env}}' app:1\n" +
			"  ibuild inspect --format '{{range .Manifest.Layers}}{{.Digest}} {{end}}' app",
		Args:              rangeArgs(1, -1),
		ValidArgsFunction: completeImages(a, &f.storeFlags),
		RunE: func(cmd *cobra.Command, args []string) error {
			tmpl, err := parseFormat(f.format)
			if err != nil {
				return err
			}
			st, done, err := f.open(a, false)
			if err != nil {
				return err
			}
			defer done()
			if f.sbom || f.provenance {
				return printAttestations(cmd.OutOrStdout(), st, args, f.attestKinds())
			}
			var results []inspectResult
			for _, ref := range args {
				r, err := inspectImage(st, ref)
				if err != nil {
					return err
				}
				results = append(results, r)
			}
			if tmpl != nil {
				return execTemplate(cmd.OutOrStdout(), tmpl, results)
			}
			b, err := json.MarshalIndent(results, "", "    ")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().StringVarP(&f.format, "format", "f", "", "print with this Go template, "+
		"such as '{{.Id}}'")
	cmd.Flags().BoolVar(&f.sbom, "sbom", false, "print the image's SBOM (SPDX or CycloneDX JSON)")
	cmd.Flags().BoolVar(&f.provenance, "provenance", false, "print the image's SLSA provenance")
	return cmd
}

// inspectImage describes the image ref names: for an index, its host
// platform image, with the names and the digest of the index entry ref
// names, as RepoTags and RepoDigests.
func inspectImage(st *registry.ImageStore, ref string) (inspectResult, error) {
	e, err := findEntry(st, ref)
	if err != nil {
		return inspectResult{}, err
	}
	img, err := findImage(st, e.Descriptor.Digest.String())
	if err != nil {
		return inspectResult{}, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return inspectResult{}, fmt.Errorf("reading the config of %s: %w", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return inspectResult{}, fmt.Errorf("reading the manifest of %s: %w", ref, err)
	}
	digest, _ := img.Digest()
	id, _ := img.ConfigName()
	raw, _ := img.RawManifest()
	r := inspectResult{Id: id.String(), RepoTags: []string{}, RepoDigests: []string{},
		Digest: digest.String(), Created: cf.Created.Time, Author: cf.Author,
		Architecture: cf.Architecture, Os: cf.OS, Variant: cf.Variant, Config: cf.Config,
		RootFS: inspectRootFS{Type: cf.RootFS.Type}, History: cf.History, Manifest: m}
	for _, d := range cf.RootFS.DiffIDs {
		r.RootFS.Layers = append(r.RootFS.Layers, d.String())
	}
	r.Size = int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		r.Size += l.Size
	}
	seen := map[string]bool{}
	for _, n := range e.Tags {
		short := registry.FamiliarName(n)
		r.RepoTags = append(r.RepoTags, short)
		repo, _ := splitTag(short)
		if !seen[repo] {
			seen[repo] = true
			r.RepoDigests = append(r.RepoDigests, repo+"@"+e.Descriptor.Digest.String())
		}
	}
	return r, nil
}
