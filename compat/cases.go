package compat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Case is one directory of testdata/compat: a Dockerfile, a context/
// directory and an optional expect.json.
type Case struct {
	Name       string // directory name
	Dir        string // the case directory
	Dockerfile string // path of the Dockerfile
	Context    string // path of the build context
	Expect     Expect
}

// Expect is a case's expect.json: how to build it and where buildah's
// result is known to differ from Docker's.
type Expect struct {
	// BuildArgs are given to both builders as --build-arg KEY=VALUE.
	// A value "{{HTTP}}" is replaced with the URL of the suite's file server.
	BuildArgs map[string]string `json:"build_args,omitempty"`
	// Labels are given to both builders as --label KEY=VALUE.
	Labels map[string]string `json:"labels,omitempty"`
	// Target is given to both builders as --target.
	Target string `json:"target,omitempty"`
	// Secrets maps secret ids to files of the case directory, given to both
	// builders as --secret id=ID,src=FILE.
	Secrets map[string]string `json:"secrets,omitempty"`
	// Warm lists build-arg sets ibuild builds with first, into the same
	// store, so that the compared build runs with a warm instruction cache.
	Warm []map[string]string `json:"warm,omitempty"`
	// Known names rule-based differences (ids in KNOWN_DIFFERENCES.md)
	// dropped from buildah's result before comparing.
	Known []string `json:"known,omitempty"`
	// Buildah, when set, gives buildah 1.28 an equivalent Dockerfile
	// because it cannot parse the case's own (heredocs, COPY --link).
	Buildah *BuildahVariant `json:"buildah,omitempty"`
	// Docker lists corrections that turn buildah's result into Docker's.
	Docker []Correction `json:"docker,omitempty"`
}

// BuildahVariant is the Dockerfile buildah builds instead of the case's:
// the same image by Docker's documentation, in syntax buildah 1.28 knows.
type BuildahVariant struct {
	Dockerfile string `json:"dockerfile"` // file name in the case directory
	Known      string `json:"known"`      // why, an id of KNOWN_DIFFERENCES.md
}

// Correction changes the reference result where buildah is known to differ
// from Docker; Known names the difference in KNOWN_DIFFERENCES.md.
type Correction struct {
	Known string `json:"known"`
	// Paths patches nodes: null removes the path and everything below
	// it; an object sets the fields it names (Node's JSON names, plus
	// "content" for the text of a regular file) on the node there, or
	// makes a new node from them. A node whose patch names "hardlinks"
	// gets exactly that hard-link group.
	Paths map[string]json.RawMessage `json:"paths,omitempty"`
	// Config replaces config fields (Config's JSON names).
	Config json.RawMessage `json:"config,omitempty"`
}

// LoadCases reads every case directory under dir, sorted by name.
func LoadCases(dir string) ([]Case, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading cases: %w", err)
	}
	var out []Case
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		c, err := LoadCase(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// LoadCase reads one case directory.
func LoadCase(dir string) (Case, error) {
	c := Case{Name: filepath.Base(dir), Dir: dir, Dockerfile: filepath.Join(dir, "Dockerfile"),
		Context: filepath.Join(dir, "context")}
	if _, err := os.Stat(c.Dockerfile); err != nil {
		return c, fmt.Errorf("case %s: %w", c.Name, err)
	}
	fi, err := os.Stat(c.Context)
	if errors.Is(err, fs.ErrNotExist) {
		// git keeps no empty directory: a case whose context is empty
		// comes without one in a fresh clone.
		if err := os.Mkdir(c.Context, 0o755); err != nil {
			return c, fmt.Errorf("case %s: creating its empty context: %w", c.Name, err)
		}
	} else if err != nil || !fi.IsDir() {
		return c, fmt.Errorf("case %s: context is not a directory", c.Name)
	}
	b, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("case %s: %w", c.Name, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c.Expect); err != nil {
		return c, fmt.Errorf("case %s: parsing expect.json: %w", c.Name, err)
	}
	if v := c.Expect.Buildah; v != nil {
		if v.Known == "" || v.Dockerfile == "" {
			return c, fmt.Errorf("case %s: expect.json: buildah needs dockerfile and known", c.Name)
		}
		if _, err := os.Stat(filepath.Join(dir, v.Dockerfile)); err != nil {
			return c, fmt.Errorf("case %s: %w", c.Name, err)
		}
	}
	return c, nil
}

// KnownIDs returns every known-difference id the case uses.
func (c Case) KnownIDs() []string {
	ids := append([]string(nil), c.Expect.Known...)
	for _, d := range c.Expect.Docker {
		ids = append(ids, d.Known)
	}
	if c.Expect.Buildah != nil {
		ids = append(ids, c.Expect.Buildah.Known)
	}
	return ids
}
