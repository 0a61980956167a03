package compat

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// inodes hands out inode numbers to patched nodes: a new one for each, or
// one per hard-link group for nodes whose patch lists their group.
type inodes struct {
	last   int
	groups map[string]int
}

// of returns the inode for a node at p whose group is p and links.
func (ids *inodes) of(p string, links []string) int {
	key := strings.Join(slices.Sorted(slices.Values(append([]string{p}, links...))), "\x00")
	if id, ok := ids.groups[key]; ok && len(links) > 0 {
		return id
	}
	ids.last--
	ids.groups[key] = ids.last
	return ids.last
}

// apply makes the correction to t and cfg.
func (d Correction) apply(t Tree, cfg Config, ids *inodes) (Config, error) {
	for _, p := range slices.Sorted(maps.Keys(d.Paths)) {
		if err := patchPath(t, p, d.Paths[p], ids); err != nil {
			return cfg, err
		}
	}
	if len(d.Config) == 0 {
		return cfg, nil
	}
	out, err := cfg.Patch(d.Config)
	if err != nil {
		return cfg, err
	}
	if DiffConfigs(out, cfg) == "" {
		return cfg, fmt.Errorf("config patch %s changes nothing", d.Config)
	}
	return out, nil
}

// patchPath applies one path's patch to t.
func patchPath(t Tree, p string, patch json.RawMessage, ids *inodes) error {
	old := t[p]
	if bytes.Equal(bytes.TrimSpace(patch), []byte("null")) {
		if old == nil {
			return fmt.Errorf("removing %s: not in the reference", p)
		}
		t.remove(p)
		return nil
	}
	n, links, err := patchNode(old, patch)
	if err != nil {
		return fmt.Errorf("patching %s: %w", p, err)
	}
	switch {
	case links != nil:
		n.inode = ids.of(p, *links)
	case old != nil:
		n.inode = old.inode
	default:
		n.inode = ids.of(p, nil)
	}
	if old != nil {
		same := *n
		same.Hardlinks = old.Hardlinks
		if same.Equal(old) && (links == nil || slices.Equal(*links, old.Hardlinks)) {
			return fmt.Errorf("patching %s: the reference has it already", p)
		}
	}
	if old != nil && old.Type == "dir" && n.Type != "dir" {
		t.removeBelow(p)
	}
	t.makeParents(p)
	t[p] = n
	return nil
}

// patchNode returns old (or a new node) with the fields patch names, and
// the hard-link group the patch gives, if any.
func patchNode(old *Node, patch json.RawMessage) (*Node, *[]string, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(patch, &fields); err != nil {
		return nil, nil, err
	}
	var links *[]string
	if raw, ok := fields["hardlinks"]; ok {
		links = new([]string)
		if err := json.Unmarshal(raw, links); err != nil {
			return nil, nil, err
		}
		delete(fields, "hardlinks")
	}
	if raw, ok := fields["content"]; ok {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, nil, fmt.Errorf("content: %w", err)
		}
		sum := sha256.Sum256([]byte(text))
		fields["size"], _ = json.Marshal(len(text))
		fields["sha256"], _ = json.Marshal(hex.EncodeToString(sum[:]))
		delete(fields, "content")
	}
	n := &Node{}
	if old != nil {
		c := *old
		c.Hardlinks = nil
		n = &c
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(n); err != nil {
		return nil, nil, err
	}
	if n.Type == "" {
		return nil, nil, fmt.Errorf("a new node needs a type")
	}
	return n, links, nil
}
