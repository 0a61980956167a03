package attest

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// dpkgStatus is where dpkg keeps its database of installed packages, and
// dpkgStatusDir where distroless images keep one stanza file per package.
const (
	dpkgStatus    = "var/lib/dpkg/status"
	dpkgStatusDir = "var/lib/dpkg/status.d/"
)

// parseDpkgStatus returns the packages a dpkg status file (or a status.d
// file) lists as installed. location is the file's path in the image. A
// paragraph it cannot read is left out with a warning.
func parseDpkgStatus(data []byte, location string) (out []Package, warnings []string) {
	for _, st := range splitStanzas(data) {
		f, err := parseControl(st)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("reading /%s: %v", location, err))
			continue
		}
		if f["Package"] == "" || !dpkgInstalled(f["Status"], location) {
			continue
		}
		p := Package{
			Type: TypeDeb, Name: f["Package"], Version: f["Version"],
			Arch: f["Architecture"], Supplier: f["Maintainer"], Homepage: f["Homepage"],
			Description: firstLine(f["Description"]), Locations: []string{"/" + location},
		}
		p.Source, p.SourceVersion = dpkgSource(f["Source"])
		if p.Source == p.Name && (p.SourceVersion == "" || p.SourceVersion == p.Version) {
			p.Source, p.SourceVersion = "", ""
		}
		out = append(out, p)
	}
	return out, warnings
}

// dpkgInstalled reads the Status field ("install ok installed"): only the
// third word says whether the package is on disk. status.d files of
// distroless images carry no Status at all; their packages are installed.
func dpkgInstalled(status, location string) bool {
	if status == "" {
		return strings.HasPrefix(location, dpkgStatusDir)
	}
	w := strings.Fields(status)
	return len(w) == 3 && w[2] == "installed"
}

// dpkgSource splits a Source field, "glibc" or "glibc (2.36-9)".
func dpkgSource(s string) (name, version string) {
	name, rest, ok := strings.Cut(strings.TrimSpace(s), " ")
	if !ok {
		return name, ""
	}
	return name, strings.Trim(strings.TrimSpace(rest), "()")
}

// splitStanzas splits a control file into its paragraphs, which blank lines
// separate.
func splitStanzas(data []byte) [][]byte {
	var out [][]byte
	var cur []byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
			continue
		}
		cur = append(append(cur, line...), '\n')
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// parseControl reads the "Field: value" lines of one paragraph; a line
// that starts with a space or a tab continues the field before it.
func parseControl(st []byte) (map[string]string, error) {
	f := map[string]string{}
	last := ""
	for _, line := range strings.Split(strings.TrimRight(string(st), "\n"), "\n") {
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				return nil, fmt.Errorf("continuation line %q before any field", line)
			}
			f[last] += "\n" + strings.TrimSpace(line)
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %q is not a field", line)
		}
		last = strings.TrimSpace(k)
		f[last] = strings.TrimSpace(v)
	}
	return f, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
