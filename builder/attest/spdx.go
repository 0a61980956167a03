package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Creation says what made a document and when.
type Creation struct {
	// Tool and Version name the tool that made it: "ibuild", "v1.2.0".
	Tool    string
	Version string
	Time    time.Time
}

// The parts of an SPDX 2.3 JSON document this package writes.
type (
	spdxDocument struct {
		SPDXVersion       string             `json:"spdxVersion"`
		DataLicense       string             `json:"dataLicense"`
		SPDXID            string             `json:"SPDXID"`
		Name              string             `json:"name"`
		DocumentNamespace string             `json:"documentNamespace"`
		CreationInfo      spdxCreation       `json:"creationInfo"`
		Packages          []spdxPackage      `json:"packages"`
		Files             []spdxFile         `json:"files,omitempty"`
		Relationships     []spdxRelationship `json:"relationships"`
	}
	spdxCreation struct {
		Created  string   `json:"created"`
		Creators []string `json:"creators"`
	}
	spdxPackage struct {
		Name             string            `json:"name"`
		SPDXID           string            `json:"SPDXID"`
		VersionInfo      string            `json:"versionInfo,omitempty"`
		Supplier         string            `json:"supplier,omitempty"`
		DownloadLocation string            `json:"downloadLocation"`
		FilesAnalyzed    bool              `json:"filesAnalyzed"`
		Checksums        []spdxChecksum    `json:"checksums,omitempty"`
		Homepage         string            `json:"homepage,omitempty"`
		SourceInfo       string            `json:"sourceInfo,omitempty"`
		LicenseConcluded string            `json:"licenseConcluded"`
		LicenseDeclared  string            `json:"licenseDeclared"`
		LicenseComments  string            `json:"licenseComments,omitempty"`
		CopyrightText    string            `json:"copyrightText"`
		Description      string            `json:"description,omitempty"`
		ExternalRefs     []spdxExternalRef `json:"externalRefs,omitempty"`
		Purpose          string            `json:"primaryPackagePurpose,omitempty"`
	}
	spdxChecksum struct {
		Algorithm string `json:"algorithm"`
		Value     string `json:"checksumValue"`
	}
	spdxExternalRef struct {
		Category string `json:"referenceCategory"`
		Type     string `json:"referenceType"`
		Locator  string `json:"referenceLocator"`
	}
	spdxFile struct {
		FileName         string         `json:"fileName"`
		SPDXID           string         `json:"SPDXID"`
		Checksums        []spdxChecksum `json:"checksums"`
		LicenseConcluded string         `json:"licenseConcluded"`
		CopyrightText    string         `json:"copyrightText"`
		Comment          string         `json:"comment,omitempty"`
	}
	spdxRelationship struct {
		Element string `json:"spdxElementId"`
		Type    string `json:"relationshipType"`
		Related string `json:"relatedSpdxElement"`
	}
)

const (
	noAssertion = "NOASSERTION"
	spdxImageID = "SPDXRef-Image"
	// spdxNamespaceBase starts every document namespace; the image digest
	// ends it, so the same image always gets the same, unique, namespace.
	spdxNamespaceBase = "https://github.com/ibuild/ibuild/spdx/"
)

// SPDX writes inv as an SPDX 2.3 JSON document describing img: a package
// for the image that contains one package per package found and one file
// per file the build added.
func SPDX(inv *Inventory, img Image, c Creation) ([]byte, error) {
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              imageName(img),
		DocumentNamespace: spdxNamespaceBase + img.Digest.Algorithm + "-" + img.Digest.Hex,
		CreationInfo: spdxCreation{Created: c.Time.UTC().Format(time.RFC3339),
			Creators: []string{"Tool: " + c.Tool + "-" + c.Version}},
		Packages: []spdxPackage{spdxImage(img)},
		Relationships: []spdxRelationship{
			{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: spdxImageID}},
	}
	if inv.Distro.ID != "" {
		doc.Packages = append(doc.Packages, spdxPackage{
			Name: inv.Distro.ID, SPDXID: "SPDXRef-OperatingSystem",
			VersionInfo: inv.Distro.VersionID, Description: inv.Distro.Name,
			DownloadLocation: noAssertion, LicenseConcluded: noAssertion,
			LicenseDeclared: noAssertion, CopyrightText: noAssertion,
			Purpose: "OPERATING-SYSTEM",
		})
	}
	for _, p := range inv.Packages {
		doc.Packages = append(doc.Packages, spdxFromPackage(p))
	}
	for _, f := range inv.Files {
		doc.Files = append(doc.Files, spdxFile{
			FileName: f.Path, SPDXID: spdxID("File", f.Path, f.Path),
			Checksums:        []spdxChecksum{{"SHA1", f.SHA1}, {"SHA256", f.SHA256}},
			LicenseConcluded: noAssertion, CopyrightText: noAssertion,
			Comment: "added by " + f.CreatedBy,
		})
	}
	for _, p := range doc.Packages[1:] {
		doc.Relationships = append(doc.Relationships,
			spdxRelationship{Element: spdxImageID, Type: "CONTAINS", Related: p.SPDXID})
	}
	for _, f := range doc.Files {
		doc.Relationships = append(doc.Relationships,
			spdxRelationship{Element: spdxImageID, Type: "CONTAINS", Related: f.SPDXID})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding the SPDX document: %w", err)
	}
	return b, nil
}

// spdxImage is the package that stands for the image itself.
func spdxImage(img Image) spdxPackage {
	p := spdxPackage{
		Name: imageName(img), SPDXID: spdxImageID, VersionInfo: img.Digest.String(),
		DownloadLocation: noAssertion, LicenseConcluded: noAssertion,
		LicenseDeclared: noAssertion, CopyrightText: noAssertion, Purpose: "CONTAINER",
		Checksums: []spdxChecksum{{"SHA256", img.Digest.Hex}},
	}
	for _, n := range img.Names {
		if u, err := ImageURL(n, &img.Platform); err == nil {
			p.ExternalRefs = append(p.ExternalRefs, spdxPURL(u))
		}
	}
	return p
}

func spdxFromPackage(p Package) spdxPackage {
	sp := spdxPackage{
		Name: p.Name, SPDXID: spdxID("Package-"+p.Type, p.Name, p.PURL),
		VersionInfo: p.Version, DownloadLocation: noAssertion,
		LicenseConcluded: noAssertion, LicenseDeclared: noAssertion,
		CopyrightText: noAssertion, Description: p.Description,
		SourceInfo:   "found in " + strings.Join(p.Locations, ", "),
		ExternalRefs: []spdxExternalRef{spdxPURL(p.PURL)},
	}
	if p.Supplier != "" {
		sp.Supplier = "Person: " + p.Supplier
	}
	if strings.HasPrefix(p.Homepage, "http://") || strings.HasPrefix(p.Homepage, "https://") {
		sp.Homepage = p.Homepage
	}
	switch {
	case p.License == "":
	case licenseExpression.MatchString(p.License):
		sp.LicenseDeclared = p.License
	default:
		sp.LicenseComments = "license as the package database states it: " + p.License
	}
	return sp
}

func spdxPURL(u string) spdxExternalRef {
	return spdxExternalRef{Category: "PACKAGE-MANAGER", Type: "purl", Locator: u}
}

// licenseExpression matches what can pass for an SPDX licence expression:
// identifiers joined by AND, OR and WITH, in parentheses or not.
var licenseExpression = regexp.MustCompile(
	`^\(*[A-Za-z0-9.+-]+\)*( +(AND|OR|WITH) +\(*[A-Za-z0-9.+-]+\)*)*$`)

// spdxID makes an element ID from a readable part and a hash of what makes
// the element unique. IDs may hold only letters, digits, '.' and '-'.
func spdxID(kind, readable, unique string) string {
	sum := sha256.Sum256([]byte(unique))
	clean := strings.Map(func(r rune) rune {
		if r < 128 && (r == '.' || r == '-' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' ||
			'0' <= r && r <= '9') {
			return r
		}
		return '-'
	}, strings.TrimPrefix(readable, "/"))
	return "SPDXRef-" + kind + "-" + clean + "-" + hex.EncodeToString(sum[:6])
}

// imageName is the name documents give the image: its first name, or its
// digest.
func imageName(img Image) string {
	if len(img.Names) > 0 {
		return img.Names[0]
	}
	return img.Digest.String()
}
