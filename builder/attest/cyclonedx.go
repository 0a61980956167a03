package attest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// The parts of a CycloneDX 1.5 JSON BOM this package writes.
type (
	cdxBOM struct {
		Schema       string          `json:"$schema"`
		BOMFormat    string          `json:"bomFormat"`
		SpecVersion  string          `json:"specVersion"`
		SerialNumber string          `json:"serialNumber"`
		Version      int             `json:"version"`
		Metadata     cdxMetadata     `json:"metadata"`
		Components   []cdxComponent  `json:"components"`
		Dependencies []cdxDependency `json:"dependencies"`
	}
	cdxMetadata struct {
		Timestamp string       `json:"timestamp"`
		Tools     cdxTools     `json:"tools"`
		Component cdxComponent `json:"component"`
	}
	cdxTools struct {
		Components []cdxComponent `json:"components"`
	}
	cdxComponent struct {
		BOMRef      string        `json:"bom-ref,omitempty"`
		Type        string        `json:"type"`
		Author      string        `json:"author,omitempty"`
		Name        string        `json:"name"`
		Version     string        `json:"version,omitempty"`
		Description string        `json:"description,omitempty"`
		Hashes      []cdxHash     `json:"hashes,omitempty"`
		Licenses    []cdxLicense  `json:"licenses,omitempty"`
		PURL        string        `json:"purl,omitempty"`
		ExtRefs     []cdxExtRef   `json:"externalReferences,omitempty"`
		Properties  []cdxProperty `json:"properties,omitempty"`
	}
	cdxHash struct {
		Alg     string `json:"alg"`
		Content string `json:"content"`
	}
	cdxLicense struct {
		Expression string          `json:"expression,omitempty"`
		License    *cdxLicenseName `json:"license,omitempty"`
	}
	cdxLicenseName struct {
		Name string `json:"name"`
	}
	cdxExtRef struct {
		Type string `json:"type"`
		URL  string `json:"url"`
	}
	cdxProperty struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	cdxDependency struct {
		Ref       string   `json:"ref"`
		DependsOn []string `json:"dependsOn"`
	}
)

const cdxImageRef = "image"

// CycloneDX writes inv as a CycloneDX 1.5 JSON BOM whose metadata component
// is img; packages are library components, added files file components.
func CycloneDX(inv *Inventory, img Image, c Creation) ([]byte, error) {
	bom := cdxBOM{
		Schema:    "http://cyclonedx.org/schema/bom-1.5.schema.json",
		BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1,
		SerialNumber: "urn:uuid:" + nameUUID("cyclonedx:"+img.Digest.String()),
		Metadata: cdxMetadata{
			Timestamp: c.Time.UTC().Format(time.RFC3339),
			Tools: cdxTools{Components: []cdxComponent{
				{Type: "application", Name: c.Tool, Version: c.Version}}},
			Component: cdxComponent{BOMRef: cdxImageRef, Type: "container",
				Name: imageName(img), Version: img.Digest.String()},
		},
		Components: []cdxComponent{},
	}
	deps := cdxDependency{Ref: cdxImageRef, DependsOn: []string{}}
	if d := inv.Distro; d.ID != "" {
		bom.Components = append(bom.Components, cdxComponent{BOMRef: "os:" + d.ID,
			Type: "operating-system", Name: d.ID, Version: d.VersionID, Description: d.Name})
	}
	for _, p := range inv.Packages {
		bom.Components = append(bom.Components, cdxFromPackage(p))
	}
	for _, f := range inv.Files {
		bom.Components = append(bom.Components, cdxComponent{
			BOMRef: "file:" + f.Path, Type: "file", Name: f.Path,
			Hashes:     []cdxHash{{"SHA-1", f.SHA1}, {"SHA-256", f.SHA256}},
			Properties: []cdxProperty{{"ibuild:createdBy", f.CreatedBy}},
		})
	}
	for _, comp := range bom.Components {
		deps.DependsOn = append(deps.DependsOn, comp.BOMRef)
	}
	bom.Dependencies = []cdxDependency{deps}
	b, err := json.Marshal(bom)
	if err != nil {
		return nil, fmt.Errorf("encoding the CycloneDX BOM: %w", err)
	}
	return b, nil
}

func cdxFromPackage(p Package) cdxComponent {
	c := cdxComponent{BOMRef: p.PURL, Type: "library", Author: p.Supplier, Name: p.Name,
		Version: p.Version, Description: p.Description, PURL: p.PURL}
	switch {
	case p.License == "":
	case licenseExpression.MatchString(p.License):
		c.Licenses = []cdxLicense{{Expression: p.License}}
	default:
		c.Licenses = []cdxLicense{{License: &cdxLicenseName{Name: p.License}}}
	}
	if strings.HasPrefix(p.Homepage, "http://") || strings.HasPrefix(p.Homepage, "https://") {
		c.ExtRefs = []cdxExtRef{{Type: "website", URL: p.Homepage}}
	}
	prop := func(k, v string) {
		if v != "" {
			c.Properties = append(c.Properties, cdxProperty{Name: "ibuild:" + k, Value: v})
		}
	}
	prop("package:type", p.Type)
	prop("package:arch", p.Arch)
	prop("package:source", p.Source)
	prop("package:sourceVersion", p.SourceVersion)
	for _, l := range p.Locations {
		prop("location", l)
	}
	return c
}

// nameUUID is a name-based (version 5 layout) UUID made from the SHA-256 of
// s, so the same image always gets the same serial number.
func nameUUID(s string) string {
	sum := sha256.Sum256([]byte(s))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
