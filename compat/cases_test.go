package compat

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// knownFile documents every known difference the cases name.
const knownFile = "KNOWN_DIFFERENCES.md"

// TestCasesAreDocumented checks that the cases load, that there are enough,
// and that KNOWN_DIFFERENCES.md documents exactly the differences they use.
func TestCasesAreDocumented(t *testing.T) {
	cases, err := LoadCases(casesDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < minCases {
		t.Errorf("%d cases, want at least %d", len(cases), minCases)
	}
	f, err := os.Open(knownFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	documented, err := DocumentedIDs(f)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, c := range cases {
		for _, id := range c.KnownIDs() {
			used[id] = true
			if !slices.Contains(documented, id) {
				t.Errorf("case %s: known difference %q is not in %s", c.Name, id, knownFile)
			}
		}
		for _, id := range c.Expect.Known {
			if _, err := applyRule(id, Tree{}); err != nil {
				t.Errorf("case %s: %v", c.Name, err)
			}
		}
	}
	for _, id := range documented {
		if !used[id] {
			t.Errorf("%s documents %q, which no case uses", knownFile, id)
		}
	}
}

func TestReference(t *testing.T) {
	file := func(mode Mode) *Node { return &Node{Type: "reg", Mode: mode, Size: 1, SHA256: sumX} }
	ref := Tree{
		"/etc": {Type: "dir", Mode: 0o755}, "/etc/hosts": {Type: "reg", Mode: 0o644},
		"/run": {Type: "dir", Mode: 0o755}, "/a": file(0o644), "/b": file(0o644),
		"/d": {Type: "dir", Mode: 0o755}, "/d/x": file(0o600),
	}
	for i, p := range ref.Paths() {
		ref[p].inode = i + 10
	}
	ref["/a"].inode, ref["/b"].inode = 1, 1
	ref.linkGroups()
	tests := []struct {
		name    string
		expect  string // expect.json
		want    map[string]string
		wantCfg Config
		wantErr string
	}{{
		name: "rule and patches",
		expect: `{"known": ["run-mount-stubs"], "docker": [{"known": "k", "paths": {
			"/d": null, "/b": {"hardlinks": []}, "/a": {"mode": "0600"},
			"/new/f": {"type": "reg", "mode": "0640", "uid": 1, "gid": 2, "content": "x"}},
			"config": {"WorkingDir": "/w"}}]}`,
		want: map[string]string{
			"/etc": "dir 0755 0:0", "/a": "reg 0600 0:0 1B 2d711642b726",
			"/b": "reg 0644 0:0 1B 2d711642b726", "/new": "dir 0755 0:0",
			"/new/f": "reg 0640 1:2 1B 2d711642b726",
		},
		wantCfg: Config{OS: "linux", WorkingDir: "/w"},
	}, {
		name:    "a rule that changes nothing is stale",
		expect:  `{"known": ["run-mount-stubs", "run-mount-stubs"]}`,
		wantErr: "listed but not seen",
	}, {
		name:    "a patch that changes nothing is stale",
		expect:  `{"docker": [{"known": "k", "paths": {"/a": {"mode": "0644"}}}]}`,
		wantErr: "has it already",
	}, {
		name:    "removing a missing path",
		expect:  `{"docker": [{"known": "k", "paths": {"/nope": null}}]}`,
		wantErr: "not in the reference",
	}, {
		name:    "a config patch that changes nothing",
		expect:  `{"docker": [{"known": "k", "config": {"OS": "linux"}}]}`,
		wantErr: "changes nothing",
	}, {
		name:    "an unknown rule",
		expect:  `{"known": ["no-such-rule"]}`,
		wantErr: "not a rule-based known difference",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Case{Name: "test"}
			if err := json.Unmarshal([]byte(tc.expect), &c.Expect); err != nil {
				t.Fatal(err)
			}
			tree, cfg, err := c.Reference(ref, Config{OS: "linux"})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, describe(tree)); d != "" {
				t.Errorf("tree (-want +got):\n%s", d)
			}
			if d := DiffConfigs(cfg, tc.wantCfg); d != "" {
				t.Errorf("config (-want +got):\n%s", d)
			}
		})
	}
	if ref["/run"] == nil || ref["/a"].Mode != 0o644 {
		t.Error("Reference changed the tree it was given")
	}
}

func TestParseConfig(t *testing.T) {
	raw := `{"os": "linux", "architecture": "amd64", "config": {"Env": [], "Cmd": null,
		"ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Labels": {"io.buildah.version": "1.28"},
		"Healthcheck": {"Test": ["CMD", "true"], "Interval": 30000000000}, "Shell": []}}`
	got, err := ParseConfig([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{OS: "linux", Architecture: "amd64", ExposedPorts: []string{"53/udp", "80/tcp"},
		Healthcheck: &Health{Test: []string{"CMD", "true"}, Interval: 30e9}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("ParseConfig (-want +got):\n%s", d)
	}
}
