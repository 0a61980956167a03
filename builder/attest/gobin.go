package attest

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
)

// The layout of the build information the Go linker writes into every
// binary (see debug/buildinfo): a 32-byte header that starts with
// buildInfoMagic at a 16-byte aligned offset, then, since Go 1.18, the Go
// version and the module information as varint-prefixed strings. The
// module information is framed by 16-byte sentinels.
var (
	buildInfoMagic = []byte("\xff Go buildinf:")
	modInfoStart   = []byte("\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6")
)

const (
	buildInfoHeader = 32
	buildInfoAlign  = 16
	flagsInline     = 0x2 // version and module info follow the header
	maxGoVersion    = 256
	maxModInfo      = 32 << 20
	scanWindow      = 32 << 10
)

// errNotGo says a file holds no Go build information.
var errNotGo = errors.New("not a Go binary")

// errOldGo says a Go binary is older than Go 1.18, whose build information
// points into the data segment instead of following the header.
var errOldGo = errors.New("a Go binary built before Go 1.18: its modules are not listed")

// readBuildInfo finds the build information of a Go binary in a stream,
// reading no further than it has to; it never needs the whole file in
// memory or on disk, as debug/buildinfo does. br must have a buffer of at
// least 64 KiB.
func readBuildInfo(br *bufio.Reader) (*debug.BuildInfo, error) {
	var off int64
	for {
		buf, err := br.Peek(scanWindow)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		i := bytes.Index(buf, buildInfoMagic)
		if i < 0 {
			skip := len(buf) - len(buildInfoMagic) + 1
			if errors.Is(err, io.EOF) || skip <= 0 {
				return nil, errNotGo
			}
			n, _ := br.Discard(skip)
			off += int64(n)
			continue
		}
		n, _ := br.Discard(i)
		off += int64(n)
		if off%buildInfoAlign == 0 {
			bi, err := parseBuildInfo(br)
			if !errors.Is(err, errNotGo) {
				return bi, err
			}
		}
		// Not the real header (the magic also appears in the read-only
		// data of programs that use debug/buildinfo): look further.
		n, _ = br.Discard(1)
		off += int64(n)
	}
}

// parseBuildInfo reads the build information at the start of br. It only
// consumes input once the header, the version and the module information
// sentinel are known to be right; otherwise it returns errNotGo.
func parseBuildInfo(br *bufio.Reader) (*debug.BuildInfo, error) {
	hdr, _ := br.Peek(buildInfoHeader + binary.MaxVarintLen64 + maxGoVersion +
		binary.MaxVarintLen64 + len(modInfoStart))
	if len(hdr) < buildInfoHeader+2 {
		return nil, errNotGo
	}
	ptrSize, flags := hdr[14], hdr[15]
	if ptrSize != 4 && ptrSize != 8 || flags&^0x3 != 0 {
		return nil, errNotGo
	}
	if flags&flagsInline == 0 {
		return nil, errOldGo
	}
	rest := hdr[buildInfoHeader:]
	vlen, n := binary.Uvarint(rest)
	if n <= 0 || vlen == 0 || vlen > maxGoVersion || int(vlen)+n > len(rest) {
		return nil, errNotGo
	}
	version := string(rest[n : n+int(vlen)])
	if !strings.HasPrefix(version, "go") {
		return nil, errNotGo
	}
	rest = rest[n+int(vlen):]
	mlen, m := binary.Uvarint(rest)
	if m <= 0 || mlen > maxModInfo {
		return nil, errNotGo
	}
	bi := &debug.BuildInfo{GoVersion: version}
	if mlen == 0 {
		return bi, nil // built without module information
	}
	if len(rest) < m+len(modInfoStart) || !bytes.HasPrefix(rest[m:], modInfoStart) {
		return nil, errNotGo
	}
	if _, err := br.Discard(len(hdr) - len(rest) + m); err != nil {
		return nil, err
	}
	mod := make([]byte, mlen)
	if _, err := io.ReadFull(br, mod); err != nil {
		return nil, fmt.Errorf("reading module information: %w", err)
	}
	// As debug/buildinfo: the text sits between two 16-byte sentinels.
	if len(mod) < 33 || mod[len(mod)-17] != '\n' {
		return bi, nil
	}
	parsed, err := debug.ParseBuildInfo(string(mod[16 : len(mod)-16]))
	if err != nil {
		return nil, fmt.Errorf("parsing module information: %w", err)
	}
	parsed.GoVersion = version
	return parsed, nil
}

// goPackages lists the modules of a Go binary at location: its main
// module, every dependency, and the standard library of its Go version.
func goPackages(bi *debug.BuildInfo, location string) []Package {
	var out []Package
	add := func(path, version string) {
		out = append(out, Package{Type: TypeGolang, Name: path, Version: version,
			Locations: []string{location}})
	}
	if bi.Main.Path != "" {
		v := bi.Main.Version
		if v == "(devel)" {
			v = ""
		}
		add(bi.Main.Path, v)
	}
	for _, d := range bi.Deps {
		path, version := d.Path, d.Version
		// A module replaced by another version is that version; one
		// replaced by a local directory keeps the name it was required by.
		if r := d.Replace; r != nil && r.Version != "" && r.Version != "(devel)" {
			path, version = r.Path, r.Version
		}
		add(path, version)
	}
	if v, ok := strings.CutPrefix(firstWord(bi.GoVersion), "go"); ok {
		add("stdlib", v)
	}
	return out
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}
