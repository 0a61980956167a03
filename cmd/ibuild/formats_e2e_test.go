package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ibuild/ibuild/internal/testenv"
)

// keysOf lists the keys of a JSON object.
func keysOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestFormatFields builds an image that uses every config instruction in
// both formats and checks each manifest and config field against the
// field lists of the OCI image spec (with Docker's documented extensions,
// which Docker itself writes into OCI configs) and of Docker's image spec.
func TestFormatFields(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a": "x", "Dockerfile": "FROM scratch\nCOPY a /a\n" +
		"ENV A=1\nLABEL l=1\nEXPOSE 80\nVOLUME /v\nWORKDIR /w\nUSER 1\nSTOPSIGNAL SIGTERM\n" +
		"HEALTHCHECK CMD true\nONBUILD RUN x\nSHELL [\"/bin/sh\",\"-c\"]\n" +
		"ENTRYPOINT [\"e\"]\nCMD [\"c\"]\n"})
	imageKeys := set("created", "author", "architecture", "os", "os.version", "os.features",
		"variant", "config", "rootfs", "history")
	ociConfig := set("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir",
		"Labels", "StopSignal", "ArgsEscaped")
	dockerExt := set("Healthcheck", "OnBuild", "Shell")
	tests := []struct {
		format, manifestType string
		manifestKeys         map[string]bool
	}{
		{"oci", string(types.OCIManifestSchema1),
			set("schemaVersion", "mediaType", "artifactType", "config", "layers", "subject", "annotations")},
		{"docker", string(types.DockerManifestSchema2),
			set("schemaVersion", "mediaType", "config", "layers")},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "oci")
			ibuild(t, dir, "--root", t.TempDir(), "--format", tt.format, "-o", "type=oci,dest="+out, ".")
			img := ociImage(t, out)
			raw, _ := img.RawManifest()
			mt, _ := img.MediaType()
			if string(mt) != tt.manifestType {
				t.Errorf("manifest media type %s, want %s", mt, tt.manifestType)
			}
			for _, k := range keysOf(t, raw) {
				if !tt.manifestKeys[k] {
					t.Errorf("manifest field %q is not in the %s spec", k, tt.format)
				}
			}
			cfg, _ := img.RawConfigFile()
			for _, k := range keysOf(t, cfg) {
				if !imageKeys[k] {
					t.Errorf("image config field %q is not in the spec", k)
				}
			}
			var c struct{ Config json.RawMessage }
			json.Unmarshal(cfg, &c)
			got := keysOf(t, c.Config)
			for _, k := range got {
				if !ociConfig[k] && !dockerExt[k] {
					t.Errorf("config field %q is in neither spec", k)
				}
			}
			for k := range dockerExt {
				if !contains(got, k) {
					t.Errorf("%s format lost Docker's %s", tt.format, k)
				}
			}
		})
	}
}

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestCompressedLayersUnpack writes zstd and eStargz layers and has other
// tools read them: umoci unpacks eStargz (gzip) directly; zstd goes through
// skopeo, which recompresses it to gzip for umoci (umoci 0.4 lacks zstd).
func TestCompressedLayersUnpack(t *testing.T) {
	skopeo, err1 := exec.LookPath("skopeo")
	umoci, err2 := exec.LookPath("umoci")
	if err1 != nil || err2 != nil {
		testenv.Require(t, "skopeo and umoci (Debian packages skopeo, umoci)")
	}
	ctx := moduleFile(t, "examples/hello")
	for _, c := range []string{"zstd", "estargz"} {
		t.Run(c, func(t *testing.T) {
			tmp := t.TempDir()
			out := filepath.Join(tmp, "oci")
			ibuild(t, ".", "--root", t.TempDir(), "--compression", c, "-t", "h",
				"-o", "type=oci,dest="+out, ctx)
			m, _ := ociImage(t, out).Manifest()
			want := types.OCILayerZStd
			if c == "estargz" {
				want = types.OCILayer
				if m.Layers[0].Annotations["containerd.io/snapshot/stargz/toc.digest"] == "" {
					t.Errorf("eStargz layer without its TOC digest annotation: %v", m.Layers[0].Annotations)
				}
			}
			if m.Layers[0].MediaType != want {
				t.Errorf("layer media type %s, want %s", m.Layers[0].MediaType, want)
			}
			src := out
			if c == "zstd" {
				src = filepath.Join(tmp, "gz")
				b, err := exec.Command(skopeo, "copy", "--dest-compress-format", "gzip",
					"oci:"+out+":latest", "oci:"+src+":latest").CombinedOutput()
				if err != nil {
					t.Fatalf("skopeo copy of the zstd image: %v\n%s", err, b)
				}
			}
			bundle := filepath.Join(tmp, "bundle")
			unpack := exec.Command(umoci, "unpack", "--image", src+":latest", bundle)
			if b, err := unpack.CombinedOutput(); err != nil {
				t.Fatalf("umoci unpack: %v\n%s", err, b)
			}
			got, err := os.ReadFile(filepath.Join(bundle, "rootfs", "hello.txt"))
			if err != nil || string(got) != "Hello from ibuild!\n" {
				t.Errorf("unpacked hello.txt = %q, %v", got, err)
			}
		})
	}
}
