package attest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tarEntry is one entry of a test layer; typ 0 is a regular file.
type tarEntry struct {
	name string
	typ  byte
	mode int64
	body string
	link string
}

// testLayer returns a layer whose tar stream holds entries.
func testLayer(t *testing.T, added bool, createdBy string, entries ...tarEntry) Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link}
		if h.Typeflag == 0 {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.body))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	return Layer{Added: added, CreatedBy: createdBy, Open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

func dpkgEntry(name, version string) string {
	return "Package: " + name + "\nStatus: install ok installed\nArchitecture: amd64\n" +
		"Version: " + version + "\n\n"
}

func sums(s string) (string, string) {
	a, b := sha256.Sum256([]byte(s)), sha1.Sum([]byte(s))
	return hex.EncodeToString(a[:]), hex.EncodeToString(b[:])
}

func TestScan(t *testing.T) {
	gobin := fakeBinary(4096, flagsInline, "go1.26.8", testModInfo)
	copy(gobin, "\x7fELF")
	layers := []Layer{
		testLayer(t, false, "ADD rootfs.tar /",
			tarEntry{name: "etc/os-release", body: "ID=debian\nVERSION_ID=12\n"},
			tarEntry{name: "var/lib/dpkg/status", body: dpkgEntry("old", "1")},
			tarEntry{name: "lib/apk/db/installed", body: "P:musl\nV:1\n"},
			tarEntry{name: "var/lib/rpm/rpmdb.sqlite", body: "SQLite format 3"},
			tarEntry{name: "usr/bin/tool", mode: 0o755, body: string(gobin)},
			tarEntry{name: "usr/bin/data", mode: 0o644, body: string(gobin)},
			tarEntry{name: "opt/hidden", mode: 0o755, body: string(gobin)}),
		testLayer(t, true, "COPY app /app/",
			tarEntry{name: "app/", typ: tar.TypeDir, mode: 0o755},
			tarEntry{name: "app/one", body: "one"},
			tarEntry{name: "app/two", body: "two"},
			tarEntry{name: "app/same", typ: tar.TypeLink, link: "app/one"},
			tarEntry{name: "app/sym", typ: tar.TypeSymlink, link: "one"}),
		testLayer(t, false, "RUN apt-get install",
			tarEntry{name: "var/lib/dpkg/status",
				body: dpkgEntry("a", "1.0") + dpkgEntry("b", "2:2.0-1") + dpkgEntry("c", "3")},
			tarEntry{name: "lib/apk/db/.wh.installed"},
			tarEntry{name: "opt/.wh..wh..opq"},
			tarEntry{name: "app/two", body: "changed by RUN"}),
		testLayer(t, true, "ADD x /", tarEntry{name: "./x", body: "x"}),
	}
	inv, err := Scan(context.Background(), layers)
	if err != nil {
		t.Fatal(err)
	}
	loc := []string{"/var/lib/dpkg/status"}
	deb := func(name, version, purl string) Package {
		return Package{Type: TypeDeb, Name: name, Version: version, Arch: "amd64",
			Locations: loc, PURL: purl}
	}
	gloc := []string{"/usr/bin/tool"}
	want := &Inventory{
		Distro: Distro{ID: "debian", VersionID: "12"},
		Packages: []Package{
			deb("a", "1.0", "pkg:deb/debian/a@1.0?arch=amd64&distro=debian-12"),
			deb("b", "2:2.0-1", "pkg:deb/debian/b@2:2.0-1?arch=amd64&distro=debian-12"),
			deb("c", "3", "pkg:deb/debian/c@3?arch=amd64&distro=debian-12"),
			{Type: TypeGolang, Name: "example.com/dep", Version: "v1.2.3", Locations: gloc,
				PURL: "pkg:golang/example.com/dep@v1.2.3"},
			{Type: TypeGolang, Name: "example.com/hello", Locations: gloc,
				PURL: "pkg:golang/example.com/hello"},
			{Type: TypeGolang, Name: "stdlib", Version: "1.26.8", Locations: gloc,
				PURL: "pkg:golang/stdlib@1.26.8"},
		},
		Warnings: []string{"/var/lib/rpm/rpmdb.sqlite: the SBOM does not list RPM packages yet"},
	}
	one256, one1 := sums("one")
	x256, x1 := sums("x")
	want.Files = []File{
		{Path: "/app/one", SHA256: one256, SHA1: one1, Size: 3, CreatedBy: "COPY app /app/"},
		{Path: "/app/same", SHA256: one256, SHA1: one1, Size: 3, CreatedBy: "COPY app /app/"},
		{Path: "/x", SHA256: x256, SHA1: x1, Size: 1, CreatedBy: "ADD x /"},
	}
	if diff := cmp.Diff(want, inv); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}
}

func TestScanVisibility(t *testing.T) {
	status := tarEntry{name: "var/lib/dpkg/status", body: dpkgEntry("a", "1")}
	tests := []struct {
		name  string
		upper []tarEntry
		want  int // packages left
	}{
		{"nothing above", nil, 1},
		{"whiteout of the file", []tarEntry{{name: "var/lib/dpkg/.wh.status"}}, 0},
		{"whiteout of a parent", []tarEntry{{name: "var/lib/.wh.dpkg"}}, 0},
		{"opaque parent", []tarEntry{{name: "var/lib/dpkg/.wh..wh..opq"}}, 0},
		{"opaque grandparent", []tarEntry{{name: "var/.wh..wh..opq"}}, 0},
		{"parent replaced by a symlink",
			[]tarEntry{{name: "var/lib/dpkg", typ: tar.TypeSymlink, link: "/x"}}, 0},
		{"parent directory entry only", []tarEntry{{name: "var/lib/dpkg/", typ: tar.TypeDir}}, 1},
		{"opaque sibling", []tarEntry{{name: "var/lib/apt/.wh..wh..opq"}}, 1},
		{"whiteout of a prefix-named sibling",
			[]tarEntry{{name: "var/lib/dpkg/.wh.stat"}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			layers := []Layer{testLayer(t, false, "", status)}
			if tt.upper != nil {
				layers = append(layers, testLayer(t, false, "", tt.upper...))
			}
			inv, err := Scan(context.Background(), layers)
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Packages) != tt.want {
				t.Errorf("packages = %v, want %d", inv.Packages, tt.want)
			}
		})
	}
}
