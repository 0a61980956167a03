package compat

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Ids of the rule-based known differences (see KNOWN_DIFFERENCES.md).
const (
	// RunMountStubs: buildah 1.28 leaves the empty files and directories
	// it mounts over during RUN in the layer.
	RunMountStubs = "run-mount-stubs"
)

// runStubFiles are the files buildah 1.28 bind-mounts during RUN and
// leaves behind empty.
var runStubFiles = []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}

// dropRunMountStubs removes what buildah 1.28's RUN leaves behind: empty
// /etc/hosts, /etc/hostname, /etc/resolv.conf and an empty /run.
// Docker's RUN leaves none of them in a layer.
func dropRunMountStubs(t Tree) bool {
	changed := false
	for _, p := range runStubFiles {
		if n := t[p]; n != nil && n.Type == "reg" && n.Size == 0 {
			delete(t, p)
			changed = true
		}
	}
	if n := t["/run"]; n != nil && n.Type == "dir" && !t.hasChildren("/run") {
		delete(t, "/run")
		changed = true
	}
	return changed
}

// hasChildren reports whether anything is below the directory p.
func (t Tree) hasChildren(p string) bool {
	prefix := p + "/"
	for k := range t {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// applyRule applies the rule-based known difference id to t.
func applyRule(id string, t Tree) (changed bool, err error) {
	switch id {
	case RunMountStubs:
		return dropRunMountStubs(t), nil
	}
	return false, fmt.Errorf("%q is not a rule-based known difference (known: %s)",
		id, RunMountStubs)
}

// Reference turns buildah's result into the image Docker builds: it applies the case's
// rules and corrections. A listed difference that changes nothing is an
// error, so that the lists stay true.
func (c Case) Reference(t Tree, cfg Config) (Tree, Config, error) {
	t = t.Clone()
	for _, id := range c.Expect.Known {
		changed, err := applyRule(id, t)
		if err != nil {
			return nil, cfg, fmt.Errorf("case %s: %w", c.Name, err)
		}
		if !changed {
			return nil, cfg, fmt.Errorf("case %s: known difference %s listed but not seen",
				c.Name, id)
		}
	}
	ids := &inodes{groups: map[string]int{}}
	for _, d := range c.Expect.Docker {
		var err error
		if cfg, err = d.apply(t, cfg, ids); err != nil {
			return nil, cfg, fmt.Errorf("case %s: correction %s: %w", c.Name, d.Known, err)
		}
	}
	t.linkGroups()
	return t, cfg, nil
}

// knownHeading matches a heading of KNOWN_DIFFERENCES.md that defines an
// id: "## `run-mount-stubs`: …".
var knownHeading = regexp.MustCompile("^## `([a-z0-9-]+)`")

// DocumentedIDs reads the ids KNOWN_DIFFERENCES.md defines.
func DocumentedIDs(r io.Reader) ([]string, error) {
	var ids []string
	s := bufio.NewScanner(r)
	for s.Scan() {
		if m := knownHeading.FindStringSubmatch(s.Text()); m != nil {
			ids = append(ids, m[1])
		}
	}
	if err := s.Err(); err != nil {
		return nil, fmt.Errorf("reading the known differences: %w", err)
	}
	return ids, nil
}
