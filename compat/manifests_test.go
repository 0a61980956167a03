package compat

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// k8sObject is the part of a Kubernetes object the checks read.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name         string `yaml:"name"`
		GenerateName string `yaml:"generateName"`
		Namespace    string `yaml:"namespace"`
	}
	Spec struct {
		Template struct {
			Spec podSpec
		}
	}
}

// podSpec is the part of a pod spec the checks read.
type podSpec struct {
	HostUsers      *bool          `yaml:"hostUsers"`
	InitContainers []k8sContainer `yaml:"initContainers"`
	Containers     []k8sContainer
}

// k8sContainer is the part of a container the checks read.
type k8sContainer struct {
	Name, Image     string
	Args            []string
	SecurityContext struct {
		RunAsUser                *int64 `yaml:"runAsUser"`
		RunAsGroup               *int64 `yaml:"runAsGroup"`
		RunAsNonRoot             *bool  `yaml:"runAsNonRoot"`
		Privileged               *bool
		AllowPrivilegeEscalation *bool                 `yaml:"allowPrivilegeEscalation"`
		ProcMount                string                `yaml:"procMount"`
		SeccompProfile           struct{ Type string } `yaml:"seccompProfile"`
		AppArmorProfile          struct{ Type string } `yaml:"appArmorProfile"`
		Capabilities             struct{ Add, Drop []string }
	} `yaml:"securityContext"`
}

// readManifests parses every YAML document of the files in dir, strictly.
func readManifests(t *testing.T, dir string) map[string]k8sObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	out := map[string]k8sObject{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var o k8sObject
			if err := dec.Decode(&o); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: not valid YAML: %v", f, err)
			}
			id := o.Kind + "/" + o.Metadata.Name + o.Metadata.GenerateName
			if o.APIVersion == "" || o.Kind == "" || id == o.Kind+"/" {
				t.Errorf("%s: a document without apiVersion, kind or name: %+v", f, o)
			}
			out[id] = o
		}
	}
	return out
}

// TestKubernetesManifests checks that the manifests of examples/kubernetes
// are valid YAML, that the Job has the security settings its README
// documents, and that it pushes to the registry, keeps its build cache there
// and reads through the mirror the other manifests define.
func TestKubernetesManifests(t *testing.T) {
	dir := filepath.Join(examplesDir, "kubernetes")
	objs := readManifests(t, dir)
	for _, id := range []string{"Namespace/ibuild", "Deployment/registry", "Service/registry",
		"Deployment/mirror", "Service/mirror", "ConfigMap/mirror-config", "Job/ibuild-"} {
		if _, ok := objs[id]; !ok {
			t.Errorf("%s: no %s", dir, id)
		}
	}
	job := objs["Job/ibuild-"].Spec.Template.Spec
	if job.HostUsers == nil || *job.HostUsers {
		t.Error("Job: spec.template.spec.hostUsers is not false")
	}
	if len(job.InitContainers) != 1 || !strings.HasPrefix(job.InitContainers[0].Image, "alpine/git") ||
		job.InitContainers[0].Args[0] != "clone" {
		t.Errorf("Job: want one alpine/git init container running git clone, got %+v",
			job.InitContainers)
	}
	if len(job.Containers) != 1 {
		t.Fatalf("Job: %d containers, want 1", len(job.Containers))
	}
	c := job.Containers[0]
	sc := c.SecurityContext
	got := map[string]any{
		"runAsUser": deref(sc.RunAsUser), "runAsGroup": deref(sc.RunAsGroup),
		"runAsNonRoot": deref(sc.RunAsNonRoot), "privileged": deref(sc.Privileged),
		"allowPrivilegeEscalation": deref(sc.AllowPrivilegeEscalation),
		"procMount":                sc.ProcMount, "seccompProfile": sc.SeccompProfile.Type,
		"appArmorProfile": sc.AppArmorProfile.Type, "capabilities.add": sc.Capabilities.Add,
		"capabilities.drop": sc.Capabilities.Drop,
	}
	want := map[string]any{
		"runAsUser": int64(1000), "runAsGroup": int64(1000), "runAsNonRoot": true,
		"privileged": false, "allowPrivilegeEscalation": true, "procMount": "Unmasked",
		"seccompProfile": "Unconfined", "appArmorProfile": "Unconfined",
		"capabilities.add": []string{"SETUID", "SETGID"}, "capabilities.drop": []string{"ALL"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Job: ibuild container securityContext (-want +got):\n%s", d)
	}
	cache := "type=registry,ref=registry.ibuild.svc.cluster.local:5000/hello-world:buildcache"
	for _, arg := range []string{"--push", "--registry-mirror=mirror.ibuild.svc.cluster.local:5000",
		"--insecure-registry=registry.ibuild.svc.cluster.local:5000",
		"--cache-from=" + cache, "--cache-to=" + cache + ",mode=max"} {
		if !slices.Contains(c.Args, arg) {
			t.Errorf("Job: ibuild args %q lack %q", c.Args, arg)
		}
	}
	checkReadmeMentions(t, filepath.Join(dir, "README.md"), []string{
		"hostUsers", "procMount", "Unmasked", "seccompProfile", "appArmorProfile", "Unconfined",
		"runAsUser", "allowPrivilegeEscalation", "SETUID", "SETGID", "privileged",
		"/etc/subuid", "--cache-to", "--cache-from", "--registry-mirror",
	})
}

// checkReadmeMentions fails the test for each word the file lacks.
func checkReadmeMentions(t *testing.T, file string, words []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range words {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("%s does not mention %q", file, w)
		}
	}
}

// deref returns *p, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// TestCIExamplesAreYAML checks that the CI examples parse and hold the
// lines run-local.sh runs.
func TestCIExamplesAreYAML(t *testing.T) {
	for _, f := range []string{"github-actions.yml", "gitlab-ci.yml"} {
		b, err := os.ReadFile(filepath.Join(examplesDir, "ci", f))
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			t.Errorf("%s: not valid YAML: %v", f, err)
		}
		for _, marker := range []string{"# >>> ibuild-ci", "# <<< ibuild-ci", "ibuild build",
			"--push", "ibuild login", "--cache-from", "--cache-to"} {
			if !bytes.Contains(b, []byte(marker)) {
				t.Errorf("%s lacks %q", f, marker)
			}
		}
	}
}
