package attest

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestPackageURL(t *testing.T) {
	deb12 := Distro{ID: "debian", VersionID: "12"}
	tests := []struct {
		name   string
		p      Package
		distro Distro
		want   string
	}{
		{"deb with distro and source", Package{Type: TypeDeb, Name: "libc6",
			Version: "2.36-9+deb12u7", Arch: "amd64", Source: "glibc"}, deb12,
			"pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12&upstream=glibc"},
		{"deb source with its own version", Package{Type: TypeDeb, Name: "libgcc-s1",
			Version: "12.2.0-14", Arch: "amd64", Source: "gcc-12", SourceVersion: "12.2.0-14+b1"},
			Distro{},
			"pkg:deb/debian/libgcc-s1@12.2.0-14?arch=amd64&upstream=gcc-12%4012.2.0-14%2Bb1"},
		{"deb on ubuntu", Package{Type: TypeDeb, Name: "bash", Version: "5.2-1", Arch: "amd64"},
			Distro{ID: "ubuntu", VersionID: "24.04"},
			"pkg:deb/ubuntu/bash@5.2-1?arch=amd64&distro=ubuntu-24.04"},
		{"apk", Package{Type: TypeAPK, Name: "musl", Version: "1.2.5-r0", Arch: "x86_64"},
			Distro{ID: "alpine", VersionID: "3.20.3"},
			"pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20.3"},
		{"go module", Package{Type: TypeGolang, Name: "github.com/spf13/cobra",
			Version: "v1.10.2"}, deb12, "pkg:golang/github.com/spf13/cobra@v1.10.2"},
		{"go module without a version", Package{Type: TypeGolang, Name: "example.com/x"},
			Distro{}, "pkg:golang/example.com/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := packageURL(tt.p, tt.distro); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestImageURL(t *testing.T) {
	amd64 := &v1.Platform{OS: "linux", Architecture: "amd64"}
	const dig = "sha256:0123456789012345678901234567890123456789012345678901234567890123"
	tests := []struct {
		ref  string
		p    *v1.Platform
		want string
	}{
		{"busybox", amd64, "pkg:docker/busybox@latest?platform=linux%2Famd64"},
		{"docker.io/library/ubuntu:24.04", amd64, "pkg:docker/ubuntu@24.04?platform=linux%2Famd64"},
		{"docker.io/bitnami/redis:7", nil, "pkg:docker/bitnami/redis@7"},
		{"127.0.0.1:5000/team/app:1", &v1.Platform{OS: "linux", Architecture: "arm64",
			Variant: "v8"}, "pkg:docker/127.0.0.1:5000/team/app@1?platform=linux%2Farm64%2Fv8"},
		{"alpine@" + dig, nil, "pkg:docker/alpine?digest=" + "sha256:" + dig[7:]},
		{"alpine:3.20@" + dig, nil, "pkg:docker/alpine@3.20?digest=" + dig},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := ImageURL(tt.ref, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
