package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ibuild/ibuild/internal/testenv"
)

// iterations is how many interrupted builds a test makes.
func iterations() int {
	if testing.Short() {
		return 5
	}
	return 20
}

// TestInterruptBuild interrupts builds of tag v1 at random points (while
// resolving and pulling the base, unpacking it, copying, or in a RUN that
// has a secret mounted) with SIGINT, SIGTERM and SIGKILL, sent to ibuild
// alone or, like a terminal's ^C, to its process group. Each time ibuild
// exits promptly and non-zero, leaves no process, mount or (except after
// SIGKILL) temporary file behind, never leaves the secret on disk, and v1
// still names the image the last complete build made. The build after
// them all works.
func TestInterruptBuild(t *testing.T) {
	reg := testenv.Registry(t)
	bin := testenv.Binary(t)
	root, work := t.TempDir(), t.TempDir()
	secret := randomHex(t, "interrupt-secret")
	secretFile := filepath.Join(work, "secret")
	writeFiles(t, work, map[string]string{"secret": secret})
	ctxDir := filepath.Join(work, "ctx")

	base0 := pushBase(t, reg, "interrupt/base:0", 1<<20)
	writeFiles(t, ctxDir, map[string]string{"Dockerfile": "FROM " + base0 + "\nRUN echo v1 > /v\n"})
	ibuild(t, work, "--root", root, "-t", "v1", "--progress", "plain", ctxDir)
	check := interruptCheck{root: root, bin: bin, tag: "v1", want: storeImage(t, root, "v1"),
		secret: secret}

	for i := range iterations() {
		base := pushBase(t, reg, fmt.Sprintf("interrupt/base:%d", i+1), 8<<20)
		writeFiles(t, ctxDir, map[string]string{
			"Dockerfile": "FROM " + base + "\nCOPY f /f\n" +
				"RUN --mount=type=secret,id=s test -s /run/secrets/s && sleep 30\n",
			"f": fmt.Sprint(i),
		})
		r := startIbuild(t, work, "--root", root, "-t", "v1", "--progress", "plain",
			"--secret", "id=s,src="+secretFile, ctxDir)
		sig := signalFor(i)
		if sig == syscall.SIGKILL {
			// Kill it while the secret is mounted, to see it left nothing.
			r.waitFor(t, "RUN --mount=type=secret", 30*time.Second)
			time.Sleep(randomDelay(100*time.Millisecond, 600*time.Millisecond))
		} else {
			time.Sleep(randomDelay(0, 2500*time.Millisecond))
		}
		if exited(r.cmd.Process.Pid) {
			r.wait(t, exitBound)
			t.Fatalf("iteration %d: the build ended before the signal:\n%s", i, r.out.String())
		}
		target := r.cmd.Process.Pid
		if sig != syscall.SIGKILL && i%4 == 1 {
			target = -target // the whole group, as ^C in a terminal
		}
		syscall.Kill(target, sig)
		if code := r.wait(t, exitBound); code == 0 {
			t.Fatalf("iteration %d: exit 0 after %v:\n%s", i, sig, r.out.String())
		}
		t.Logf("iteration %d, %v during: %s", i, sig, lastLine(r.out.String()))
		check.verify(t, r, sig)
	}

	writeFiles(t, ctxDir, map[string]string{"Dockerfile": "FROM " + base0 + "\nRUN echo after > /a\n"})
	ibuild(t, work, "--root", root, "-t", "v2", "--progress", "plain", ctxDir)
	storeImage(t, root, "v2")
}

// TestInterruptOutputAndPush interrupts builds that have nothing to run
// but much to write: the base image comes through a slow link, so storing
// the image, writing the OCI tar and pushing each take a while. The signal
// lands in one of them; the tag keeps the earlier image, and no output is
// left half written.
func TestInterruptOutputAndPush(t *testing.T) {
	reg := testenv.Registry(t)
	bin := testenv.Binary(t)
	slowReg := throttledProxy(t, reg, 8<<20)
	root, work := t.TempDir(), t.TempDir()
	outDir := filepath.Join(work, "out")
	ctxDir := filepath.Join(work, "ctx")
	// The tag is a name on the loopback registry: --push pushes every tag.
	tag := slowReg + "/interrupt/app:v1"
	base := pushBase(t, reg, "interrupt/big:1", 16<<20)
	writeFiles(t, ctxDir, map[string]string{"Dockerfile": "FROM " + base + "\nLABEL v=1\n"})
	ibuild(t, work, "--root", root, "-t", tag, "--push", "--progress", "plain", ctxDir)
	check := interruptCheck{root: root, bin: bin, tag: tag, want: storeImage(t, root, tag)}

	n := iterations() / 2
	for i := range n {
		slowBase := pushBase(t, reg, fmt.Sprintf("interrupt/big:%d", i+2), 16<<20)
		slowBase = slowReg + strings.TrimPrefix(slowBase, reg)
		writeFiles(t, ctxDir, map[string]string{"Dockerfile": fmt.Sprintf(
			"FROM %s\nLABEL v=%d\n", slowBase, i+2)})
		out := filepath.Join(outDir, fmt.Sprintf("o%d.tar", i))
		r := startIbuild(t, work, "--root", root, "-t", tag, "--push",
			"-o", "type=oci,dest="+out+",tar=true", "--progress", "plain", ctxDir)
		time.Sleep(randomDelay(500*time.Millisecond, 6*time.Second))
		if exited(r.cmd.Process.Pid) {
			r.wait(t, exitBound)
			t.Fatalf("iteration %d: the build ended before the signal:\n%s", i, r.out.String())
		}
		sig := signalFor(i)
		syscall.Kill(r.cmd.Process.Pid, sig)
		if code := r.wait(t, exitBound); code == 0 {
			t.Fatalf("iteration %d: exit 0 after %v:\n%s", i, sig, r.out.String())
		}
		t.Logf("iteration %d, %v during: %s", i, sig, lastLine(r.out.String()))
		check.verify(t, r, sig)
		ents, _ := os.ReadDir(outDir)
		for _, e := range ents {
			if sig != syscall.SIGKILL && e.Name() != filepath.Base(out) {
				t.Errorf("iteration %d: %s left in the output directory", i, e.Name())
			}
		}
	}
}

// lastLine is the last progress line of ibuild's output before the
// signal's effects: where the signal found the build.
func lastLine(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		if strings.HasPrefix(l, "#") && !strings.Contains(l, "ERROR") &&
			!strings.Contains(l, "CANCELED") {
			return l
		}
	}
	return ""
}

// exited reports whether pid is gone or a zombie.
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// throttledProxy is a reverse proxy on 127.0.0.1 in front of reg that
// sends and takes blobs at about rate bytes per second.
func throttledProxy(t *testing.T, reg string, rate int) string {
	t.Helper()
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: reg})
	rp.ModifyResponse = func(resp *http.Response) error {
		if strings.Contains(resp.Request.URL.Path, "/blobs/") {
			resp.Body = &slowBody{rc: resp.Body, rate: rate}
		}
		return nil
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			r.Body = &slowBody{rc: r.Body, rate: rate}
		}
		rp.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// slowBody passes at most rate bytes per second through.
type slowBody struct {
	rc   io.ReadCloser
	rate int
}

func (b *slowBody) Read(p []byte) (int, error) {
	const tick = 20 * time.Millisecond
	if max := b.rate / int(time.Second/tick); len(p) > max {
		p = p[:max]
	}
	time.Sleep(tick)
	return b.rc.Read(p)
}

func (b *slowBody) Close() error { return b.rc.Close() }

func randomHex(t *testing.T, prefix string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}
