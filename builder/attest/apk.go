package attest

import (
	"strings"
)

// apkInstalled lists where apk keeps its database: /lib/apk/db (apk-tools
// 2) and /usr/lib/apk/db (apk-tools 3 on merged-/usr systems).
var apkInstalled = []string{"lib/apk/db/installed", "usr/lib/apk/db/installed"}

// parseAPKInstalled returns the packages of an apk database: paragraphs of
// "K:value" lines (P name, V version, A arch, o origin, L licence,
// m maintainer, U url, T description).
func parseAPKInstalled(data []byte, location string) []Package {
	var out []Package
	for _, st := range splitStanzas(data) {
		p := Package{Type: TypeAPK, Locations: []string{"/" + location}}
		for _, line := range strings.Split(string(st), "\n") {
			if len(line) < 2 || line[1] != ':' {
				continue
			}
			v := line[2:]
			switch line[0] {
			case 'P':
				p.Name = v
			case 'V':
				p.Version = v
			case 'A':
				p.Arch = v
			case 'o':
				p.Source = v
			case 'L':
				p.License = v
			case 'm':
				p.Supplier = v
			case 'U':
				p.Homepage = v
			case 'T':
				p.Description = v
			}
		}
		if p.Name == "" {
			continue
		}
		if p.Source == p.Name {
			p.Source = ""
		}
		out = append(out, p)
	}
	return out
}

// osRelease lists where os-release lives, the first one that exists wins.
var osRelease = []string{"etc/os-release", "usr/lib/os-release"}

// parseOSRelease reads the KEY=value lines of an os-release file.
func parseOSRelease(data []byte) Distro {
	var d Distro
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"'`)
		switch k {
		case "ID":
			d.ID = v
		case "VERSION_ID":
			d.VersionID = v
		case "PRETTY_NAME":
			d.Name = v
		}
	}
	return d
}
