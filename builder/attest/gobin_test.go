package attest

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"runtime/debug"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// modInfoEnd is the sentinel the linker puts after the module information.
var modInfoEnd = []byte("\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2")

const testModInfo = "path\texample.com/hello\nmod\texample.com/hello\t(devel)\t\n" +
	"dep\texample.com/dep\tv1.2.3\th1:abc=\n"

// fakeBinary is a file with Go build information at offset: a header with
// the given flags, the version and the module information.
func fakeBinary(offset int, flags byte, version, mod string) []byte {
	b := bytes.Repeat([]byte{'x'}, offset)
	hdr := make([]byte, buildInfoHeader)
	copy(hdr, buildInfoMagic)
	hdr[14], hdr[15] = 8, flags
	b = append(b, hdr...)
	b = binary.AppendUvarint(b, uint64(len(version)))
	b = append(b, version...)
	info := string(modInfoStart) + mod + string(modInfoEnd)
	if mod == "" {
		info = ""
	}
	b = binary.AppendUvarint(b, uint64(len(info)))
	b = append(b, info...)
	return append(b, bytes.Repeat([]byte{'y'}, 1000)...)
}

func TestReadBuildInfo(t *testing.T) {
	decoy := append(append([]byte("\x7fELF...."), buildInfoMagic...), "\x08\x02garbage"...)
	tests := []struct {
		name    string
		data    []byte
		want    string // the module path; "" when there is none
		version string
		err     error
	}{
		{name: "inline header", data: fakeBinary(4096, flagsInline, "go1.26.8", testModInfo),
			want: "example.com/hello", version: "go1.26.8"},
		{name: "header across the scan window",
			data: fakeBinary(scanWindow-16, flagsInline, "go1.22.1", testModInfo),
			want: "example.com/hello", version: "go1.22.1"},
		{name: "decoy magic before the header",
			data: append(append(decoy, bytes.Repeat([]byte{0}, 4096-len(decoy))...),
				fakeBinary(0, flagsInline, "go1.26.8", testModInfo)...),
			want: "example.com/hello", version: "go1.26.8"},
		{name: "magic at an unaligned offset is not the header",
			data: fakeBinary(4099, flagsInline, "go1.26.8", testModInfo), err: errNotGo},
		{name: "version that is not a Go version",
			data: fakeBinary(0, flagsInline, "gcc 12", testModInfo), err: errNotGo},
		{name: "without module information",
			data: fakeBinary(64, flagsInline, "go1.26.8", ""), version: "go1.26.8"},
		{name: "before Go 1.18", data: fakeBinary(64, 0, "go1.16", testModInfo), err: errOldGo},
		{name: "no magic", data: bytes.Repeat([]byte("\x7fELF"), 50000), err: errNotGo},
		{name: "empty", data: nil, err: errNotGo},
		{name: "truncated module information",
			data: fakeBinary(0, flagsInline, "go1.26.8", testModInfo)[:buildInfoHeader+40],
			err:  io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bi, err := readBuildInfo(bufio.NewReaderSize(bytes.NewReader(tt.data), 64<<10))
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				return
			}
			if bi.GoVersion != tt.version || bi.Main.Path != tt.want {
				t.Errorf("got go %q main %q, want go %q main %q", bi.GoVersion, bi.Main.Path,
					tt.version, tt.want)
			}
		})
	}
}

// TestReadBuildInfoSelf reads this test binary, a real Go executable whose
// read-only data also holds the magic (buildInfoMagic above), and compares
// with what debug/buildinfo reads from the whole file.
func TestReadBuildInfoSelf(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	want, err := buildinfo.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := readBuildInfo(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.String(), got.String()); diff != "" {
		t.Errorf("build info (-debug/buildinfo +readBuildInfo):\n%s", diff)
	}
	if want.Main.Path == "" {
		t.Errorf("the test binary should name its main module:\n%s", want)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, buildInfoMagic); n < 2 {
		t.Errorf("the magic occurs %d times in the test binary; the test needs a decoy too", n)
	}
}

func TestGoPackages(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8 X:nocoverageredesign",
		Main:      debug.Module{Path: "example.com/hello", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "example.com/dep", Version: "v1.2.3",
				Replace: &debug.Module{Path: "./dep", Version: "(devel)"}},
			{Path: "golang.org/x/sys", Version: "v0.1.0",
				Replace: &debug.Module{Path: "golang.org/x/sys", Version: "v0.2.0"}},
		},
	}
	loc := []string{"/app/hello"}
	want := []Package{
		{Type: TypeGolang, Name: "example.com/hello", Locations: loc},
		{Type: TypeGolang, Name: "example.com/dep", Version: "v1.2.3", Locations: loc},
		{Type: TypeGolang, Name: "golang.org/x/sys", Version: "v0.2.0", Locations: loc},
		{Type: TypeGolang, Name: "stdlib", Version: "1.26.8", Locations: loc},
	}
	if diff := cmp.Diff(want, goPackages(bi, "/app/hello")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
