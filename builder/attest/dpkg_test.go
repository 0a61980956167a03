package attest

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseDpkgStatus(t *testing.T) {
	status, err := os.ReadFile("testdata/dpkg-status")
	if err != nil {
		t.Fatal(err)
	}
	loc := []string{"/" + dpkgStatus}
	tests := []struct {
		name     string
		data     string
		location string
		want     []Package
		warnings int
	}{
		{
			name: "installed packages only, sources split", data: string(status),
			location: dpkgStatus,
			want: []Package{
				{Type: TypeDeb, Name: "base-files", Version: "12.4+deb12u5", Arch: "amd64",
					Supplier:    "Santiago Vila <sanvila@debian.org>",
					Homepage:    "https://tracker.debian.org/pkg/base-files",
					Description: "Debian base system miscellaneous files", Locations: loc},
				{Type: TypeDeb, Name: "libc6", Version: "2.36-9+deb12u7", Arch: "amd64",
					Source:      "glibc",
					Supplier:    "GNU Libc Maintainers <debian-glibc@lists.debian.org>",
					Homepage:    "https://www.gnu.org/software/libc/libc.html",
					Description: "GNU C Library: Shared libraries", Locations: loc},
				{Type: TypeDeb, Name: "libgcc-s1", Version: "12.2.0-14", Arch: "amd64",
					Source: "gcc-12", SourceVersion: "12.2.0-14",
					Supplier:    "Debian GCC Maintainers <debian-gcc@lists.debian.org>",
					Description: "GCC support library", Locations: loc},
			},
		},
		{
			name:     "distroless status.d file has no Status",
			data:     "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n",
			location: dpkgStatusDir + "tzdata",
			want: []Package{{Type: TypeDeb, Name: "tzdata", Version: "2024a-0+deb12u1",
				Arch: "all", Locations: []string{"/" + dpkgStatusDir + "tzdata"}}},
		},
		{
			name:     "a status file entry without Status is not installed",
			data:     "Package: tzdata\nVersion: 1\n",
			location: dpkgStatus,
		},
		{
			name: "source equal to the package is dropped",
			data: "Package: sed\nStatus: install ok installed\nSource: sed (4.9-1)\n" +
				"Version: 4.9-1\n",
			location: dpkgStatus,
			want:     []Package{{Type: TypeDeb, Name: "sed", Version: "4.9-1", Locations: loc}},
		},
		{
			name: "an unreadable paragraph is skipped with a warning",
			data: "Package: a\nStatus: install ok installed\nVersion: 1\n\n" +
				"garbage without a colon\n\nPackage: b\nStatus: install ok installed\nVersion: 2\n",
			location: dpkgStatus,
			want: []Package{
				{Type: TypeDeb, Name: "a", Version: "1", Locations: loc},
				{Type: TypeDeb, Name: "b", Version: "2", Locations: loc},
			},
			warnings: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warns := parseDpkgStatus([]byte(tt.data), tt.location)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if len(warns) != tt.warnings {
				t.Errorf("warnings = %q, want %d", warns, tt.warnings)
			}
		})
	}
}

func TestParseAPKInstalled(t *testing.T) {
	data, err := os.ReadFile("testdata/apk-installed")
	if err != nil {
		t.Fatal(err)
	}
	loc := []string{"/lib/apk/db/installed"}
	want := []Package{
		{Type: TypeAPK, Name: "musl", Version: "1.2.5-r0", Arch: "x86_64", License: "MIT",
			Supplier: "Natanael Copa <ncopa@alpinelinux.org>", Homepage: "https://musl.libc.org/",
			Description: "the musl c library (libc) implementation", Locations: loc},
		{Type: TypeAPK, Name: "libcrypto3", Version: "3.3.2-r0", Arch: "x86_64",
			Source: "openssl", License: "Apache-2.0",
			Supplier: "Ariadne Conill <ariadne@dereferenced.org>",
			Homepage: "https://www.openssl.org/", Description: "Crypto library from openssl",
			Locations: loc},
		{Type: TypeAPK, Name: "busybox-binsh", Version: "1.36.1-r29", Arch: "x86_64",
			Source: "busybox", License: "GPL-2.0-only",
			Supplier: "Sören Tempel <soeren+alpine@soeren-tempel.net>",
			Homepage: "https://busybox.net/", Description: "busybox ash /bin/sh", Locations: loc},
	}
	got := parseAPKInstalled(data, "lib/apk/db/installed")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
}

func TestParseOSRelease(t *testing.T) {
	tests := []struct {
		name string
		data string
		want Distro
	}{
		{"quoted and plain values", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\n" +
			"PRETTY_NAME=\"Alpine Linux v3.20\"\n",
			Distro{ID: "alpine", VersionID: "3.20.3", Name: "Alpine Linux v3.20"}},
		{"single quotes, blank lines, comments", "# comment\n\nID='debian'\nVERSION_ID='12'\n",
			Distro{ID: "debian", VersionID: "12"}},
		{"empty", "", Distro{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, parseOSRelease([]byte(tt.data))); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
