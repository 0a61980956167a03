package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ibuild/ibuild/internal/testenv"
	"github.com/ibuild/ibuild/registry"
)

// TestConcurrentBuilds runs several ibuild processes at once on one empty
// store: they pull and unpack the same base, share a locked cache mount
// (whose step fails if two run at once) and all tag their different
// results with the same name, each also with a name of its own. All
// succeed; the store validates; the shared name is one of the results.
func TestConcurrentBuilds(t *testing.T) {
	reg := testenv.Registry(t)
	base := pushBase(t, reg, "concurrent/base:1", 8<<20)
	root, work := t.TempDir(), t.TempDir()
	ctxDir := filepath.Join(work, "ctx")
	writeFiles(t, ctxDir, map[string]string{"Dockerfile": "FROM " + base + "\n" +
		"ARG N\n" +
		"RUN --mount=type=cache,target=/c,sharing=locked " +
		"sh -c 'test ! -e /c/busy && touch /c/busy && sleep 0.3 && rm /c/busy'\n" +
		"RUN echo $N > /n\n"})
	const n = 4
	digests := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	outs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			md := filepath.Join(work, fmt.Sprintf("md%d.json", i))
			outs[i], errs[i] = ibuildErr(t, work, "--root", root, "--progress", "plain",
				"-t", "same:1", "-t", fmt.Sprintf("own:%d", i), "--build-arg", fmt.Sprintf("N=%d", i),
				"--metadata-file", md, ctxDir)
			if errs[i] == nil {
				digests[i], errs[i] = metadataDigest(md)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		t.Fatal("the builds did not finish within 5 minutes")
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("build %d: %v\n%s", i, err, outs[i])
		}
	}

	st, err := registry.OpenImageStore(root)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if got := storeImage(t, root, fmt.Sprintf("own:%d", i)); got.String() != digests[i] {
			t.Errorf("own:%d is %s, its build made %s", i, got, digests[i])
		}
	}
	same := storeImage(t, root, "same:1").String()
	found := false
	for _, d := range digests {
		found = found || d == same
	}
	if !found {
		t.Errorf("same:1 is %s, none of the results %v", same, digests)
	}
	list, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range list {
		img, err := st.Image(im.Digest.String())
		if err == nil {
			err = validate.Image(img)
		}
		if err != nil {
			t.Errorf("stored image %s: %v", im.Digest, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) > 0 {
		t.Errorf("%d entries left in ROOT/tmp", len(ents))
	}
}

// metadataDigest reads the image digest from a --metadata-file.
func metadataDigest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var md map[string]any
	if err := json.Unmarshal(b, &md); err != nil {
		return "", err
	}
	d, _ := md["containerimage.digest"].(string)
	if d == "" {
		return "", fmt.Errorf("%s has no containerimage.digest", path)
	}
	return d, nil
}

// TestHugeDockerfile builds a 2 MB Dockerfile of 20,000 instructions: it
// works, with bounded memory. A line too long for the parser fails with a
// short error naming its line. (TestDockerfileLimits in package builder
// parses 10 MB; building that many steps takes a minute, most of it
// writing the instruction cache.)
func TestHugeDockerfile(t *testing.T) {
	work := t.TempDir()
	var b strings.Builder
	b.WriteString("FROM scratch\n")
	for i := range 20000 {
		fmt.Fprintf(&b, "LABEL label%d=%s\n", i, strings.Repeat("x", 80))
	}
	writeFiles(t, work, map[string]string{"huge/Dockerfile": b.String(),
		"long/Dockerfile": "FROM scratch\nLABEL a=" + strings.Repeat("x", 70000) + "\n"})
	cmd := exec.Command(testenv.Binary(t), "--root", t.TempDir(), "--progress", "quiet",
		filepath.Join(work, "huge"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("huge Dockerfile: %v\n%s", err, lastLines(string(out), 5))
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > 1<<20 {
		t.Errorf("peak memory %d MiB", ru.Maxrss>>10)
	}
	out2, err := ibuildErr(t, work, "--root", t.TempDir(), filepath.Join(work, "long"))
	if err == nil || !strings.Contains(out2, "Dockerfile:2") ||
		!strings.Contains(out2, "dockerfile line greater than max allowed size") {
		t.Errorf("a 70 kB line: %v\n%.2000s", err, out2)
	}
	if len(out2) > 4<<10 {
		t.Errorf("the error for a 70 kB line is %d bytes long", len(out2))
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
