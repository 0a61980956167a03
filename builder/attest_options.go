package builder

import (
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
)

// The SBOM formats AttestOptions.SBOM accepts.
const (
	SBOMSPDX      = "spdx"
	SBOMCycloneDX = "cyclonedx"
)

// AttestOptions asks a build for attestations of its image, which Build
// attaches as BuildKit does (see Result.Index).
type AttestOptions struct {
	// SBOM is the format of the image's SBOM, SBOMSPDX or SBOMCycloneDX;
	// "" makes none.
	SBOM string
	// Provenance asks for SLSA v1 provenance.
	Provenance bool
	// Names are the names the image is tagged with (-t), which the
	// statements name as their subjects.
	Names []string
	// Version is ibuild's version, the builder's in the provenance; ""
	// takes the module version of the running binary.
	Version string
}

func (o AttestOptions) any() bool { return o.SBOM != "" || o.Provenance }

func (o AttestOptions) version() string {
	if o.Version != "" {
		return o.Version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		return info.Main.Version
	}
	return "(devel)"
}

// ParseSBOM parses an --sbom value: "true" or "spdx" (SPDX 2.3 JSON),
// "cyclonedx" (CycloneDX 1.5 JSON), "false", or buildx's key=value form
// "format=cyclonedx". It returns the format, "" for none.
func ParseSBOM(s string) (string, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	for _, field := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(field, "=")
		switch {
		case !ok:
			continue
		case k == "format":
			v = val
		case k == "generator" || k == "disabled":
			return "", fmt.Errorf("--sbom %q: %s= is not supported (ibuild makes the SBOM itself)",
				s, k)
		default:
			return "", fmt.Errorf("--sbom %q: unknown key %q", s, k)
		}
	}
	switch v {
	case "", "true", "1", "spdx", "spdx-json":
		return SBOMSPDX, nil
	case "cyclonedx", "cyclonedx-json", "cdx":
		return SBOMCycloneDX, nil
	case "false", "0":
		return "", nil
	}
	return "", fmt.Errorf("--sbom %q: give spdx or cyclonedx", s)
}

// ParseProvenance parses a --provenance value: a boolean, or buildx's
// "mode=min" / "mode=max" (the same here: secrets are never recorded).
func ParseProvenance(s string) (bool, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if mode, ok := strings.CutPrefix(v, "mode="); ok {
		if mode != "min" && mode != "max" {
			return false, fmt.Errorf("--provenance %q: mode is min or max", s)
		}
		return true, nil
	}
	if v == "" {
		return true, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("--provenance %q: give true, false or mode=min|max", s)
	}
	return b, nil
}

// ParseAttest applies a buildx --attest value, "type=sbom[,format=…]" or
// "type=provenance[,mode=…]", to o.
func (o *AttestOptions) ParseAttest(s string) error {
	var typ string
	var rest []string
	for _, field := range strings.Split(s, ",") {
		if t, ok := strings.CutPrefix(field, "type="); ok {
			typ = t
			continue
		}
		rest = append(rest, field)
	}
	var err error
	switch typ {
	case "sbom":
		o.SBOM, err = ParseSBOM(strings.Join(rest, ","))
	case "provenance":
		o.Provenance, err = ParseProvenance(strings.Join(rest, ","))
	default:
		err = fmt.Errorf("--attest %q: type is sbom or provenance", s)
	}
	return err
}

// ParseAttestFlags turns the --sbom, --provenance and --attest values of
// the command line into options ("" leaves a flag out).
func ParseAttestFlags(sbom, provenance string, attest []string) (AttestOptions, error) {
	var o AttestOptions
	for _, a := range attest {
		if err := o.ParseAttest(a); err != nil {
			return o, err
		}
	}
	var err error
	if sbom != "" {
		if o.SBOM, err = ParseSBOM(sbom); err != nil {
			return o, err
		}
	}
	if provenance != "" {
		if o.Provenance, err = ParseProvenance(provenance); err != nil {
			return o, err
		}
	}
	return o, nil
}
