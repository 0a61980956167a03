package compat

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Config is the part of an image config the suite compares: the platform,
// the author and the runtime settings Dockerfile instructions set. Empty
// lists and maps are nil, so that null, [] and {} compare equal.
type Config struct {
	OS           string            `json:"os,omitempty"`
	Architecture string            `json:"architecture,omitempty"`
	Author       string            `json:"author,omitempty"`
	Env          []string          `json:"Env,omitempty"`
	Cmd          []string          `json:"Cmd,omitempty"`
	Entrypoint   []string          `json:"Entrypoint,omitempty"`
	WorkingDir   string            `json:"WorkingDir,omitempty"`
	User         string            `json:"User,omitempty"`
	ExposedPorts []string          `json:"ExposedPorts,omitempty"` // sorted keys
	Volumes      []string          `json:"Volumes,omitempty"`      // sorted keys
	Labels       map[string]string `json:"Labels,omitempty"`
	StopSignal   string            `json:"StopSignal,omitempty"`
	Healthcheck  *Health           `json:"Healthcheck,omitempty"`
	OnBuild      []string          `json:"OnBuild,omitempty"`
	Shell        []string          `json:"Shell,omitempty"`
}

// Health is a HEALTHCHECK as Docker stores it; durations in nanoseconds.
type Health struct {
	Test          []string `json:"Test,omitempty"`
	Interval      int64    `json:"Interval,omitempty"`
	Timeout       int64    `json:"Timeout,omitempty"`
	StartPeriod   int64    `json:"StartPeriod,omitempty"`
	StartInterval int64    `json:"StartInterval,omitempty"`
	Retries       int      `json:"Retries,omitempty"`
}

// IgnoredLabels are labels a builder adds about itself; they are not part
// of what the Dockerfile asked for.
var IgnoredLabels = []string{"io.buildah.version"}

// rawConfig is the JSON of an image config, as Docker writes it.
type rawConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Author       string `json:"author"`
	Config       struct {
		Env          []string            `json:"Env"`
		Cmd          []string            `json:"Cmd"`
		Entrypoint   []string            `json:"Entrypoint"`
		WorkingDir   string              `json:"WorkingDir"`
		User         string              `json:"User"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Volumes      map[string]struct{} `json:"Volumes"`
		Labels       map[string]string   `json:"Labels"`
		StopSignal   string              `json:"StopSignal"`
		Healthcheck  *Health             `json:"Healthcheck"`
		OnBuild      []string            `json:"OnBuild"`
		Shell        []string            `json:"Shell"`
	} `json:"config"`
}

// ConfigOf reads the compared fields of img's config from its raw JSON, so
// that fields go-containerregistry does not model are kept.
func ConfigOf(img v1.Image) (Config, error) {
	b, err := img.RawConfigFile()
	if err != nil {
		return Config{}, fmt.Errorf("reading the image config: %w", err)
	}
	return ParseConfig(b)
}

// ParseConfig reads the compared fields from an image config's JSON.
func ParseConfig(b []byte) (Config, error) {
	var r rawConfig
	if err := json.Unmarshal(b, &r); err != nil {
		return Config{}, fmt.Errorf("parsing the image config: %w", err)
	}
	c := r.Config
	out := Config{
		OS: r.OS, Architecture: r.Architecture, Author: r.Author,
		Env: c.Env, Cmd: c.Cmd, Entrypoint: c.Entrypoint, WorkingDir: c.WorkingDir,
		User: c.User, ExposedPorts: slices.Sorted(maps.Keys(c.ExposedPorts)),
		Volumes: slices.Sorted(maps.Keys(c.Volumes)), Labels: c.Labels,
		StopSignal: c.StopSignal, Healthcheck: c.Healthcheck, OnBuild: c.OnBuild,
		Shell: c.Shell,
	}
	for _, l := range IgnoredLabels {
		delete(out.Labels, l)
	}
	return out.normalized(), nil
}

// normalized returns c with empty lists and maps set to nil.
func (c Config) normalized() Config {
	for _, p := range []*[]string{&c.Env, &c.Cmd, &c.Entrypoint, &c.ExposedPorts,
		&c.Volumes, &c.OnBuild, &c.Shell} {
		if len(*p) == 0 {
			*p = nil
		}
	}
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	if h := c.Healthcheck; h != nil && len(h.Test) == 0 && h.Interval == 0 && h.Timeout == 0 &&
		h.StartPeriod == 0 && h.StartInterval == 0 && h.Retries == 0 {
		c.Healthcheck = nil
	}
	return c
}

// Patch returns c with the fields named in patch (a JSON object with
// Config's field names) replaced; null clears a field.
func (c Config) Patch(patch json.RawMessage) (Config, error) {
	if len(patch) == 0 {
		return c, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(patch, &fields); err != nil {
		return c, fmt.Errorf("parsing config patch: %w", err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		return c, err
	}
	var cur map[string]json.RawMessage
	if err := json.Unmarshal(b, &cur); err != nil {
		return c, err
	}
	maps.Copy(cur, fields)
	b, err = json.Marshal(cur)
	if err != nil {
		return c, err
	}
	var out Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&out); err != nil {
		return c, fmt.Errorf("applying config patch: %w", err)
	}
	return out.normalized(), nil
}

// DiffConfigs returns a readable diff of two configs (-want +got), or ""
// when they are the same.
func DiffConfigs(got, want Config) string {
	return cmp.Diff(want.normalized(), got.normalized())
}
