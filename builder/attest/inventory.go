// Package attest says what is in a built image and how it was made, for the
// supply chain: an SBOM (SPDX 2.3 or CycloneDX 1.5 JSON) read from the
// image's own package databases, Go binaries and the files the build
// copied in, and SLSA v1 provenance, each wrapped in an in-toto statement.
//
// Nothing here runs the image or unpacks it: Scan streams the layers once
// and applies whiteouts as it goes.
package attest

import (
	"cmp"
	"slices"
)

// The package types Scan reports, as package URL types.
const (
	TypeDeb    = "deb"
	TypeAPK    = "apk"
	TypeGolang = "golang"
)

// Package is one software package found in the image.
type Package struct {
	// Type is the ecosystem: TypeDeb, TypeAPK or TypeGolang.
	Type    string
	Name    string
	Version string
	// Arch is the package's architecture (deb, apk).
	Arch string
	// Source and SourceVersion name the source package (dpkg's Source,
	// apk's origin); empty when it is the package itself.
	Source        string
	SourceVersion string
	// License is the licence as the package database states it (apk).
	License string
	// Supplier is the maintainer, "Name <email>".
	Supplier    string
	Homepage    string
	Description string
	// Locations are the image paths the package was read from: its
	// database, or the binaries a Go module is linked into.
	Locations []string
	// PURL is the package URL (https://github.com/package-url/purl-spec).
	PURL string
}

// File is a regular file a COPY or ADD of the build wrote and that the
// final image still holds.
type File struct {
	// Path is absolute: "/app/server".
	Path string
	// SHA256 and SHA1 are the hex digests of the content.
	SHA256 string
	SHA1   string
	Size   int64
	// CreatedBy is the instruction that wrote the file.
	CreatedBy string
}

// Distro is the operating system release of the image, from os-release.
type Distro struct {
	ID        string // "debian", "ubuntu", "alpine"
	VersionID string // "12", "3.20.3"
	Name      string // PRETTY_NAME
}

// Inventory is what Scan found in an image.
type Inventory struct {
	Distro   Distro
	Packages []Package
	Files    []File
	// Warnings say what Scan saw but could not read, such as an RPM
	// database.
	Warnings []string
}

// sortPackages orders packages by type, name, version and URL, so that the
// documents made from an inventory are the same for the same image.
func sortPackages(ps []Package) {
	slices.SortFunc(ps, func(a, b Package) int {
		return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.Version, b.Version), cmp.Compare(a.PURL, b.PURL))
	})
}

// mergePackages keeps one package per package URL, with the locations of
// all of them.
func mergePackages(ps []Package) []Package {
	var out []Package
	at := map[string]int{}
	for _, p := range ps {
		if i, ok := at[p.PURL]; ok {
			for _, l := range p.Locations {
				if !slices.Contains(out[i].Locations, l) {
					out[i].Locations = append(out[i].Locations, l)
				}
			}
			continue
		}
		at[p.PURL] = len(out)
		out = append(out, p)
	}
	for i := range out {
		slices.Sort(out[i].Locations)
	}
	return out
}
