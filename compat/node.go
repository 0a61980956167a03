package compat

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Mode is a file's permission bits with setuid (04000), setgid (02000) and
// sticky (01000). In JSON it is an octal string such as "0755".
type Mode uint32

// String returns the mode as four octal digits.
func (m Mode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// MarshalJSON writes the mode as an octal string.
func (m Mode) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// UnmarshalJSON reads an octal string ("0755", "4755").
func (m *Mode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("mode must be an octal string: %w", err)
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil || v > 0o7777 {
		return fmt.Errorf("mode %q is not an octal mode up to 7777", s)
	}
	*m = Mode(v)
	return nil
}

// Equal reports whether two nodes are the same file as far as the suite
// compares files.
func (n *Node) Equal(o *Node) bool {
	if n == nil || o == nil {
		return n == o
	}
	return n.Type == o.Type && n.Mode == o.Mode && n.UID == o.UID && n.GID == o.GID &&
		n.Size == o.Size && n.SHA256 == o.SHA256 && n.Target == o.Target &&
		n.Rdev == o.Rdev && maps.Equal(n.Xattrs, o.Xattrs) &&
		slices.Equal(n.Hardlinks, o.Hardlinks)
}

// String describes a node in one line: "reg 0644 0:0 12B 5891b5b5…".
func (n *Node) String() string {
	if n == nil {
		return "(absent)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %d:%d", n.Type, n.Mode, n.UID, n.GID)
	if n.Type == "reg" {
		fmt.Fprintf(&b, " %dB %.12s", n.Size, n.SHA256)
	}
	if n.Target != "" {
		fmt.Fprintf(&b, " -> %s", n.Target)
	}
	if n.Rdev != "" {
		fmt.Fprintf(&b, " dev %s", n.Rdev)
	}
	for _, k := range slices.Sorted(maps.Keys(n.Xattrs)) {
		fmt.Fprintf(&b, " xattr %s=%s", k, n.Xattrs[k])
	}
	if len(n.Hardlinks) > 0 {
		fmt.Fprintf(&b, " links %s", strings.Join(n.Hardlinks, ","))
	}
	return b.String()
}
