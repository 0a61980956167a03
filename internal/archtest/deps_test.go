package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ibuild/ibuild"

// forbidden lists, for a package (prefix), the packages it must not import.
var forbidden = map[string][]string{
	module + "/layers":          {module + "/builder", module + "/registry", module + "/cmd"},
	module + "/registry":        {module + "/builder", module + "/layers", module + "/cmd"},
	module + "/builder/sandbox": {module + "/builder", module + "/layers", module + "/registry"},
	module + "/builder":         {module + "/cmd"},
}

// TestDependenciesPointOneWay checks the layering of DESIGN.md with the Go
// tool's own import lists: layers and registry know nothing of builder,
// the sandbox knows nothing of Dockerfiles, and only cmd/ibuild imports
// cobra.
func TestDependenciesPointOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/spf13/cobra") &&
				!strings.HasPrefix(p.ImportPath, module+"/cmd/") {
				t.Errorf("%s imports cobra; only cmd/ibuild may", p.ImportPath)
			}
			for pkg, bad := range forbidden {
				if !under(p.ImportPath, pkg) || (pkg == module+"/builder" &&
					under(p.ImportPath, module+"/builder/sandbox")) {
					continue
				}
				for _, b := range bad {
					if under(imp, b) && !under(imp, pkg) {
						t.Errorf("%s imports %s, against the dependency rule", p.ImportPath, imp)
					}
				}
			}
		}
	}
	if seen < 5 {
		t.Fatalf("go list found %d packages; is this the ibuild module?", seen)
	}
}

func under(path, pkg string) bool { return path == pkg || strings.HasPrefix(path, pkg+"/") }
