package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, text string
		want       config
		wantErr    string
	}{
		{name: "empty", text: "", want: config{}},
		{name: "all keys", text: `# ibuild
root = "/srv/ibuild"   # the store
progress = 'plain'
registry-mirrors = ["mirror.example:5000", "http://10.0.0.2:5000/"]
insecure-registries = [
  "10.0.0.0/8",   # the lab
  'lab.example',
]
`, want: config{Root: "/srv/ibuild", Progress: "plain",
			Mirrors:  []string{"mirror.example:5000", "http://10.0.0.2:5000/"},
			Insecure: []string{"10.0.0.0/8", "lab.example"}}},
		{name: "escapes and home", text: "root = \"~/store \\\"x\\\"\"\r\n",
			want: config{Root: "/home/me/store \"x\""}},
		{name: "empty array", text: "registry-mirrors = []", want: config{Mirrors: []string{}}},
		{name: "unknown key", text: "\nmirrors = [\"a\"]",
			wantErr: `cfg:2: unknown key "mirrors" (known: root, progress`},
		{name: "table", text: "[registry]\nmirrors = []",
			wantErr: "cfg:1: tables are not supported"},
		{name: "not a string", text: "root = 3", wantErr: "cfg:1: root: expected a quoted string"},
		{name: "string for a list", text: `registry-mirrors = "a"`,
			wantErr: "cfg:1: registry-mirrors must be an array of strings"},
		{name: "list for a string", text: `root = ["a"]`, wantErr: "cfg:1: root must be a string"},
		{name: "unterminated", text: "root = \"abc\nprogress = \"x\"",
			wantErr: "cfg:1: root: unterminated string"},
		{name: "open array", text: "registry-mirrors = [\"a\",\n", wantErr: "unterminated array"},
		{name: "missing comma", text: `registry-mirrors = ["a" "b"]`, wantErr: "expected , or ]"},
		{name: "twice", text: "root = \"a\"\nroot = \"b\"",
			wantErr: `cfg:2: key "root" is set twice`},
		{name: "trailing junk", text: `root = "a" b`, wantErr: `unexpected "b" after the value`},
		{name: "no equals", text: `root "a"`, wantErr: "expected = after root"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseConfig("cfg", tc.text, "/home/me")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadConfig checks where the file is found and that the environment
// wins over it.
func TestLoadConfig(t *testing.T) {
	home, xdg := t.TempDir(), t.TempDir()
	write := func(dir, text string) {
		p := filepath.Join(dir, "ibuild", "config.toml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, ".config"), "root = \"/from/home\"\nprogress = \"tty\"\n")
	write(xdg, "root = \"/from/xdg\"\n")
	tests := []struct {
		name string
		env  map[string]string
		want config
	}{
		{"home", map[string]string{"HOME": home}, config{Root: "/from/home", Progress: "tty"}},
		{"xdg first", map[string]string{"HOME": home, "XDG_CONFIG_HOME": xdg},
			config{Root: "/from/xdg"}},
		{"environment wins", map[string]string{"HOME": home, envRoot: "/env",
			envMirrors: "a:5000, b ,", envInsecure: "c", envProgress: "plain"},
			config{Root: "/env", Progress: "plain", Mirrors: []string{"a:5000", "b"},
				Insecure: []string{"c"}}},
		{"no file", map[string]string{"HOME": t.TempDir()}, config{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadConfig(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
	write(xdg, "root = 1\n")
	env := map[string]string{"XDG_CONFIG_HOME": xdg}
	_, err := loadConfig(func(k string) string { return env[k] })
	if err == nil || !isUsage(err) || !strings.Contains(err.Error(), "config.toml:1:") {
		t.Errorf("bad config file: error %v, want a usage error naming the line", err)
	}
}

// TestFormat checks sizes and ages as Docker prints them.
func TestFormat(t *testing.T) {
	sizes := map[int64]string{0: "0B", 512: "512B", 4100: "4.1kB", 999_600: "1MB",
		7_823_456: "7.82MB", 1_234_567_890: "1.23GB"}
	for n, want := range sizes {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
	ages := map[string]string{"0s": "Less than a second", "1s": "1 second", "45s": "45 seconds",
		"90s": "About a minute", "30m": "30 minutes", "65m": "About an hour", "5h": "5 hours",
		"72h": "3 days", "400h": "2 weeks", "2000h": "2 months", "20000h": "2 years"}
	for d, want := range ages {
		dur, _ := time.ParseDuration(d)
		if got := humanDuration(dur); got != want {
			t.Errorf("humanDuration(%s) = %q, want %q", d, got, want)
		}
	}
}
