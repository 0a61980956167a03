package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"
)

// templateFuncs are the functions --format templates can use, as in
// Docker's: json, join, split, lower, upper, title and println.
func templateFuncs() template.FuncMap {
	return template.FuncMap{
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
		"join":  strings.Join,
		"split": strings.Split,
		"lower": strings.ToLower,
		"upper": strings.ToUpper,
		"title": func(s string) string {
			if s == "" {
				return s
			}
			return strings.ToUpper(s[:1]) + s[1:]
		},
	}
}

// execTemplate prints each item with t, one line each.
func execTemplate[T any](w io.Writer, t *template.Template, items []T) error {
	for _, it := range items {
		var b strings.Builder
		if err := t.Execute(&b, it); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		fmt.Fprintln(w, strings.TrimSuffix(b.String(), "\n"))
	}
	return nil
}
