package registry

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

const someDigest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseReference(t *testing.T) {
	type result struct {
		Full, Scheme, Identifier string
	}
	tests := []struct {
		name     string
		in       string
		insecure []string
		want     result
		wantErr  bool
	}{
		{name: "short name", in: "ubuntu",
			want: result{"docker.io/library/ubuntu:latest", "https", "latest"}},
		{name: "short name with tag", in: "ubuntu:22.04",
			want: result{"docker.io/library/ubuntu:22.04", "https", "22.04"}},
		{name: "user repository", in: "user/app",
			want: result{"docker.io/user/app:latest", "https", "latest"}},
		{name: "docker.io spelled out", in: "docker.io/library/alpine:3",
			want: result{"docker.io/library/alpine:3", "https", "3"}},
		{name: "digest", in: "ubuntu@" + someDigest,
			want: result{"docker.io/library/ubuntu@" + someDigest, "https", someDigest}},
		{name: "other registry", in: "ghcr.io/org/tool:v1",
			want: result{"ghcr.io/org/tool:v1", "https", "v1"}},
		{name: "localhost with port", in: "localhost:5000/x",
			want: result{"localhost:5000/x:latest", "http", "latest"}},
		{name: "localhost without port", in: "localhost/x/y:2",
			want: result{"localhost/x/y:2", "http", "2"}},
		{name: "loopback IPv4", in: "127.0.0.1:5000/a/b:v1",
			want: result{"127.0.0.1:5000/a/b:v1", "http", "v1"}},
		{name: "loopback IPv6", in: "[::1]:5000/x",
			want: result{"[::1]:5000/x:latest", "http", "latest"}},
		{name: "insecure host:port", in: "reg.example.com:5000/x",
			insecure: []string{"reg.example.com:5000"},
			want:     result{"reg.example.com:5000/x:latest", "http", "latest"}},
		{name: "insecure host, any port", in: "reg.example.com:5000/x",
			insecure: []string{"reg.example.com"},
			want:     result{"reg.example.com:5000/x:latest", "http", "latest"}},
		{name: "insecure other port does not match", in: "reg.example.com:5000/x",
			insecure: []string{"reg.example.com:6000"},
			want:     result{"reg.example.com:5000/x:latest", "https", "latest"}},
		{name: "secure by default", in: "reg.example.com/x",
			want: result{"reg.example.com/x:latest", "https", "latest"}},
		{name: "insecure CIDR", in: "100.64.1.2:5000/x",
			insecure: []string{"100.64.0.0/10"},
			want:     result{"100.64.1.2:5000/x:latest", "http", "latest"}},
		{name: "upper case", in: "Ubuntu", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "bad digest", in: "ubuntu@sha256:abc", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{Insecure: tc.insecure}
			ref, err := o.ParseReference(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseReference(%q) = %v, want an error", tc.in, ref)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := result{fullName(ref), ref.Context().Scheme(), ref.Identifier()}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseReference(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestNormalizeTag(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  bool
	}{
		{in: "myimg", want: "docker.io/library/myimg:latest"},
		{in: "myimg:1.0", want: "docker.io/library/myimg:1.0"},
		{in: "user/app:dev", want: "docker.io/user/app:dev"},
		{in: "index.docker.io/library/x", want: "docker.io/library/x:latest"},
		{in: "localhost:5000/a/b", want: "localhost:5000/a/b:latest"},
		{in: "quay.io/org/app:v2", want: "quay.io/org/app:v2"},
		{in: "app@" + someDigest, wantErr: true},
		{in: "App", wantErr: true},
		{in: "app:bad tag", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := NormalizeTag(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("NormalizeTag(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("NormalizeTag(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNamePartsAndFamiliar(t *testing.T) {
	tests := []struct{ full, tag, repo, familiar string }{
		{"docker.io/library/app:1", "1", "docker.io/library/app", "app:1"},
		{"docker.io/user/app:latest", "latest", "docker.io/user/app", "user/app:latest"},
		{"localhost:5000/a:b", "b", "localhost:5000/a", "localhost:5000/a:b"},
		{"docker.io/library/x/y:2", "2", "docker.io/library/x/y", "library/x/y:2"},
	}
	for _, tc := range tests {
		got := []string{tagPart(tc.full), repoPart(tc.full), familiar(tc.full)}
		want := []string{tc.tag, tc.repo, tc.familiar}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.full, diff)
		}
	}
}

func TestErrorClassification(t *testing.T) {
	tests := []struct {
		name              string
		err               error
		notThere, unreach bool
		hint              string
	}{
		{name: "404", err: &transport.Error{StatusCode: 404}, notThere: true},
		{name: "name unknown", err: &transport.Error{StatusCode: 400,
			Errors: []transport.Diagnostic{{Code: transport.NameUnknownErrorCode}}},
			notThere: true},
		{name: "manifest unknown", err: &transport.Error{StatusCode: 400,
			Errors: []transport.Diagnostic{{Code: transport.ManifestUnknownErrorCode}}},
			notThere: true},
		{name: "401", err: &transport.Error{StatusCode: 401}, hint: "credentials"},
		{name: "403", err: &transport.Error{StatusCode: 403}, hint: "HTTP 403 Forbidden"},
		{name: "503", err: &transport.Error{StatusCode: 503}, unreach: true},
		{name: "plain HTTP", err: errors.New("Get \"https://h/v2/\": http: server gave HTTP" +
			" response to HTTPS client"), unreach: true, hint: "--insecure-registry"},
		{name: "other", err: errors.New("boom")},
	}
	ref, err := Options{}.ParseReference("reg.example.com/app")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := notThere(tc.err); got != tc.notThere {
				t.Errorf("notThere = %v, want %v", got, tc.notThere)
			}
			if got := unreachable(tc.err); got != tc.unreach {
				t.Errorf("unreachable = %v, want %v", got, tc.unreach)
			}
			msg := remoteError("pushing", ref, ref, "", tc.err).Error()
			if !strings.HasPrefix(msg, "pushing reg.example.com/app:latest: ") {
				t.Errorf("error %q does not name the action and reference", msg)
			}
			if !strings.Contains(msg, tc.hint) {
				t.Errorf("error %q does not contain %q", msg, tc.hint)
			}
		})
	}
}
