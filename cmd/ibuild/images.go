package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"time"

	"github.com/spf13/cobra"

	"github.com/ibuild/ibuild/registry"
)

// imageRow is one line of `ibuild images`: an image under one of its
// names. The field names are Docker's, for --format templates.
type imageRow struct {
	Repository   string
	Tag          string
	ID           string
	Digest       string
	CreatedAt    string
	CreatedSince string
	Size         string
	full         string
	created      time.Time
	id           string
}

type imagesFlags struct {
	storeFlags
	quiet, digests bool
	format         string
	filters        []string
}

func newImagesCommand(a *app) *cobra.Command {
	f := &imagesFlags{}
	cmd := &cobra.Command{
		Use:     "images [flags] [REPOSITORY[:TAG]]",
		Aliases: []string{"ls"},
		Short:   "List the images in the local store",
		Long: "List the images in the local store, newest first, one line per name, " +
			"as `docker images` does.\nSIZE is the size of the compressed blobs.",
		Example: "  ibuild images\n" +
			"  ibuild images myapp\n" +
			"  ibuild images -q --filter dangling=true\n" +
			"  ibuild images --digests\n" +
			"  ibuild images --format json\n" +
			"  ibuild images --format '{{.Repository}}:{{.Tag}} {{.Size}}'",
		Args: rangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImages(cmd, a, f, args)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only image IDs")
	fl.BoolVar(&f.digests, "digests", false, "show manifest digests")
	fl.StringVar(&f.format, "format", "",
		"table (default), json (one object a line), or a Go template")
	fl.StringArrayVarP(&f.filters, "filter", "f", nil,
		"filter: dangling=true|false, reference=PATTERN")
	return cmd
}

func runImages(cmd *cobra.Command, a *app, f *imagesFlags, args []string) error {
	match, err := imageFilter(f.filters, args)
	if err != nil {
		return err
	}
	tmpl, err := parseFormat(f.format)
	if err != nil {
		return err
	}
	st, done, err := f.open(a, false)
	if err != nil {
		return err
	}
	defer done()
	list, err := st.List()
	if err != nil {
		return err
	}
	var rows []imageRow
	for _, r := range imageRows(list, time.Now()) {
		if match(r) {
			rows = append(rows, r)
		}
	}
	out := cmd.OutOrStdout()
	switch {
	case f.quiet:
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.id] {
				seen[r.id] = true
				fmt.Fprintln(out, r.ID)
			}
		}
		return nil
	case f.format == "json":
		enc := json.NewEncoder(out)
		for _, r := range rows {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	case tmpl != nil:
		return execTemplate(out, tmpl, rows)
	}
	return writeImageTable(out, rows, f.digests)
}

// imageRows turns the store's images into rows, newest first.
func imageRows(list []registry.StoredImage, now time.Time) []imageRow {
	var rows []imageRow
	for _, si := range list {
		r := imageRow{ID: shortID(si.ID.Hex), Digest: si.Digest.String(),
			CreatedAt:    si.Created.Format("2006-01-02 15:04:05 -0700 MST"),
			CreatedSince: humanDuration(now.Sub(si.Created)) + " ago",
			Size:         humanSize(si.Size), created: si.Created, id: si.ID.String()}
		if si.Created.IsZero() {
			r.CreatedSince = "N/A"
		}
		if len(si.Tags) == 0 {
			r.Repository, r.Tag = "<none>", "<none>"
			rows = append(rows, r)
		}
		for _, t := range si.Tags {
			r.full = t
			r.Repository, r.Tag = splitTag(registry.FamiliarName(t))
			rows = append(rows, r)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if !rows[i].created.Equal(rows[j].created) {
			return rows[i].created.After(rows[j].created)
		}
		return rows[i].Repository+":"+rows[i].Tag < rows[j].Repository+":"+rows[j].Tag
	})
	return rows
}

// splitTag splits "repo:tag" at the tag's colon (not a registry port's).
func splitTag(n string) (string, string) {
	if i := strings.LastIndex(n, ":"); i >= 0 && !strings.Contains(n[i:], "/") {
		return n[:i], n[i+1:]
	}
	return n, "latest"
}

func writeImageTable(out io.Writer, rows []imageRow, digests bool) error {
	tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
	if digests {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE")
	} else {
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	for _, r := range rows {
		if digests {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.Digest, r.ID,
				r.CreatedSince, r.Size)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, r.ID, r.CreatedSince,
				r.Size)
		}
	}
	return tw.Flush()
}

// imageFilter makes the row filter of --filter and the REPOSITORY[:TAG]
// argument.
func imageFilter(filters, args []string) (func(imageRow) bool, error) {
	var tests []func(imageRow) bool
	for _, f := range filters {
		k, v, _ := strings.Cut(f, "=")
		switch {
		case k == "dangling" && (v == "true" || v == "false"):
			want := v == "true"
			tests = append(tests, func(r imageRow) bool { return (r.full == "") == want })
		case k == "reference" && v != "":
			tests = append(tests, referenceMatch(v))
		default:
			return nil, usageError{fmt.Errorf("--filter %q: use dangling=true, dangling=false "+
				"or reference=PATTERN", f)}
		}
	}
	if len(args) == 1 {
		tests = append(tests, referenceMatch(args[0]))
	}
	return func(r imageRow) bool {
		for _, t := range tests {
			if !t(r) {
				return false
			}
		}
		return true
	}, nil
}

// referenceMatch matches rows by repository (and tag when given), in the
// short or the full form, with shell wildcards.
func referenceMatch(pattern string) func(imageRow) bool {
	return func(r imageRow) bool {
		if r.full == "" {
			return false
		}
		short := r.Repository + ":" + r.Tag
		for _, cand := range []string{r.Repository, short, registry.FamiliarName(r.full), r.full,
			strings.TrimSuffix(r.full, ":"+r.Tag)} {
			if ok, _ := path.Match(pattern, cand); ok {
				return true
			}
		}
		return false
	}
}

// parseFormat parses a --format Go template; "", "table" and "json" are
// not templates.
func parseFormat(format string) (*template.Template, error) {
	switch format {
	case "", "table", "json":
		return nil, nil
	}
	t, err := template.New("format").Funcs(templateFuncs()).Parse(format)
	if err != nil {
		return nil, usageError{fmt.Errorf("--format: %w", err)}
	}
	return t, nil
}
