package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// golden compares got with testdata/golden/NAME.txt, or writes it there
// with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the golden file (run go test -update to write it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}

// machineParts are the parts of real output that differ from run to run.
var machineParts = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`sha256:[0-9a-f]{64}`), "sha256:<digest>"},
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "<hex>"},
	{regexp.MustCompile(`(downloading|extracting) [0-9a-f]{12} \S+ / \S+`), "$1 <layer> N / N"},
	{regexp.MustCompile(`(#\d+) \d+\.\d{3} `), "$1 T.TTT "},
	{regexp.MustCompile(`\b\d+\.\d+s\b`), "T.Ts"},
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
}

// mask replaces times, digests and ports in real output.
func mask(s string) string {
	for _, m := range machineParts {
		s = m.re.ReplaceAllString(s, m.with)
	}
	return s
}
