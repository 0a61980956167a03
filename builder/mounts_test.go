package builder

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// progressLog collects everything a build reports, to search it.
type progressLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *progressLog) event(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.WriteString(e.Name)
	l.buf.Write(e.Data)
	if e.Err != nil {
		l.buf.WriteString(e.Err.Error())
	}
	l.buf.WriteByte('\n')
}

func (l *progressLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// buildIn builds dockerfile on busybox with the store at root, without the
// instruction cache, so that every RUN really runs.
func buildIn(t *testing.T, root, ctxDir, dockerfile string, more func(*Options)) (v1.Image,
	*progressLog, error) {
	t.Helper()
	log := &progressLog{}
	img, err := buildImage(t, ctxDir, dockerfile, withBusybox(t, func(o *Options) {
		o.Root, o.NoCache, o.Progress = root, true, log.event
		if more != nil {
			more(o)
		}
	}))
	return img, log, err
}

// layerNames lists the entry names of every layer of img after the first
// skip (the base image's), without leading "/" or trailing "/".
func layerNames(t *testing.T, img v1.Image, skip int) []string {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range ls[skip:] {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, strings.Trim(hdr.Name, "/"))
		}
		rc.Close()
	}
	return names
}

// checkNotInLayers fails when a layer after the base holds a path at or
// below one of the mount targets.
func checkNotInLayers(t *testing.T, img v1.Image, targets ...string) {
	t.Helper()
	for _, n := range layerNames(t, img, 1) {
		for _, tg := range targets {
			if n == tg || strings.HasPrefix(n, tg+"/") {
				t.Errorf("layer holds %s, below the mount %s", n, tg)
			}
		}
	}
}

// cacheName is the name of a cache mount's directory, as cacheMount makes it.
func cacheName(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:16])
}

func TestRunMountCachePersists(t *testing.T) {
	root := t.TempDir()
	df1 := "FROM busybox\n" +
		"RUN --mount=type=cache,target=/c echo one >> /c/log\n" +
		"RUN --mount=type=cache,target=/var/x,id=shared echo two > /var/x/f\n" +
		"RUN --mount=type=cache,target=/o,uid=1000,gid=1000,mode=0700 stat -c '%u %g %a' /o > /owner\n"
	img, _, err := buildIn(t, root, t.TempDir(), df1, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkNotInLayers(t, img, "c", "var/x", "o")
	if got := flatten(t, img)["owner"].Content; got != "1000 1000 700\n" {
		t.Errorf("owner and mode of a new cache mount: %q, want 1000 1000 700", got)
	}

	df2 := "FROM busybox\n" +
		"RUN --mount=type=cache,target=/c cat /c/log > /first\n" +
		"RUN --mount=type=cache,target=/elsewhere,id=shared cat /elsewhere/f > /second\n" +
		"RUN --mount=type=cache,target=/nope sh -c 'ls /nope | wc -l' > /third\n"
	img, _, err = buildIn(t, root, t.TempDir(), df2, nil)
	if err != nil {
		t.Fatal(err)
	}
	tree := flatten(t, img)
	for p, want := range map[string]string{"first": "one\n", "second": "two\n", "third": "0\n"} {
		if got := tree[p].Content; got != want {
			t.Errorf("/%s = %q, want %q", p, got, want)
		}
	}
}

// TestRunMountCacheSharing holds a cache's lock from the test, as another
// build would, and checks what each sharing mode does with it.
func TestRunMountCacheSharing(t *testing.T) {
	tests := []struct {
		sharing string
		// waits: the step must wait for the lock; dir: the cache it writes.
		waits bool
		dir   string
	}{
		{"shared", false, cacheName("/c")},
		{"private", false, cacheName("/c") + "-1"},
		{"locked", true, cacheName("/c")},
	}
	for _, tt := range tests {
		t.Run(tt.sharing, func(t *testing.T) {
			root := t.TempDir()
			if err := os.MkdirAll(filepath.Join(root, "locks"), 0o755); err != nil {
				t.Fatal(err)
			}
			held := &state{b: &build{opts: Options{Root: root}}}
			unlock, err := held.tryFlock("cache-" + cacheName("/c"))
			if err != nil || unlock == nil {
				t.Fatalf("taking the lock: %v", err)
			}
			df := "FROM busybox\nRUN --mount=type=cache,target=/c,sharing=" + tt.sharing +
				" touch /c/" + tt.sharing + "\n"
			waiting := make(chan struct{})
			var once sync.Once
			done := make(chan error, 1)
			go func() {
				_, _, err := buildIn(t, root, t.TempDir(), df, func(o *Options) {
					o.Progress = func(e Event) {
						if strings.Contains(e.Name, "waiting for a cache mount") {
							once.Do(func() { close(waiting) })
						}
					}
				})
				done <- err
			}()
			if tt.waits {
				select {
				case <-waiting:
				case err := <-done:
					t.Fatalf("the build did not wait for the locked cache: %v", err)
				}
				select {
				case err := <-done:
					t.Fatalf("the build went on while the cache was locked: %v", err)
				case <-time.After(200 * time.Millisecond):
				}
			}
			if !tt.waits {
				err = <-done // the lock stays held all through the build
			}
			unlock()
			if tt.waits {
				err = <-done
			}
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(root, "cache-mounts", tt.dir, tt.sharing)
			if _, err := os.Stat(p); err != nil {
				got, _ := filepath.Glob(filepath.Join(root, "cache-mounts", "*", "*"))
				t.Errorf("the step did not write into %s: %v (found %v)", tt.dir, err, got)
			}
		})
	}
}

func TestRunMountBindAndTmpfs(t *testing.T) {
	ctxDir := t.TempDir()
	writeContext(t, ctxDir, []ctxFile{
		{path: "sub/f", content: "from the context"},
		{path: "single", content: "one file"},
	})
	root := t.TempDir()
	df := "FROM busybox AS stage\nRUN echo staged > /sf\n" +
		"FROM busybox\n" +
		"RUN --mount=type=bind,source=sub,target=/m cat /m/f > /ro && " +
		"if touch /m/x 2>/dev/null; then echo writable > /ro; fi\n" +
		"RUN --mount=type=bind,source=sub,target=/m,rw sh -c 'echo changed > /m/f; touch /m/new'\n" +
		"RUN --mount=type=bind,source=single,target=/one,rw cat /one > /single\n" +
		"RUN --mount=type=bind,from=stage,source=/sf,target=/sf cat /sf > /fromstage\n" +
		"RUN --mount=type=tmpfs,target=/t sh -c 'echo x > /t/f && test -f /t/f'\n" +
		"RUN --mount=type=tmpfs,target=/small,size=1m " +
		"sh -c '! dd if=/dev/zero of=/small/big bs=1k count=2048 2>/dev/null'\n"
	img, _, err := buildIn(t, root, ctxDir, df, nil)
	if err != nil {
		t.Fatal(err)
	}
	tree := flatten(t, img)
	want := map[string]string{"ro": "from the context", "single": "one file",
		"fromstage": "staged\n"}
	for p, w := range want {
		if got := tree[p].Content; got != w {
			t.Errorf("/%s = %q, want %q", p, got, w)
		}
	}
	checkNotInLayers(t, img, "m", "one", "sf", "t", "small")
	if b, _ := os.ReadFile(filepath.Join(ctxDir, "sub", "f")); string(b) != "from the context" {
		t.Errorf("a rw bind mount changed the context: %q", b)
	}
	if _, err := os.Stat(filepath.Join(ctxDir, "sub", "new")); err == nil {
		t.Error("a rw bind mount added a file to the context")
	}
	leftovers, _ := filepath.Glob(filepath.Join(root, "tmp", "*"))
	if len(leftovers) > 0 {
		t.Errorf("left in ROOT/tmp: %v", leftovers)
	}
}

// TestRunMountSSH forwards a fake agent: the step sees a socket at the
// target and SSH_AUTH_SOCK naming it, and the socket is not in the layer.
func TestRunMountSSH(t *testing.T) {
	agent := fakeAgent(t)
	df := "FROM busybox\n" +
		"RUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"$SSH_AUTH_SOCK\" > /sock\n" +
		"USER app\n" +
		"RUN --mount=type=ssh,id=deploy,target=/agent,uid=1000,mode=0600 " +
		"test -S /agent -a -w /agent && echo ok > /tmp/app\n" +
		"USER root\n" +
		"RUN --mount=type=ssh,id=missing echo optional-skipped > /opt\n"
	img, _, err := buildIn(t, t.TempDir(), t.TempDir(), df, func(o *Options) {
		o.SSH = map[string]string{"default": agent, "deploy": agent}
	})
	if err != nil {
		t.Fatal(err)
	}
	tree := flatten(t, img)
	want := map[string]string{"sock": "/run/buildkit/ssh_agent.0\n", "tmp/app": "ok\n",
		"opt": "optional-skipped\n"}
	for p, w := range want {
		if got := tree[p].Content; got != w {
			t.Errorf("/%s = %q, want %q", p, got, w)
		}
	}
	checkNotInLayers(t, img, "run", "agent")

	_, _, err = buildIn(t, t.TempDir(), t.TempDir(),
		"FROM busybox\nRUN --mount=type=ssh,id=gone,required true\n", nil)
	if err == nil || !strings.Contains(err.Error(), `ssh agent "gone" is required`) {
		t.Errorf("a required agent that was not given: %v", err)
	}
}

// TestAgentProxyForwards checks the proxy itself: bytes go to the agent and
// back, and nothing is reachable once the step is over.
func TestAgentProxyForwards(t *testing.T) {
	agent := fakeAgent(t)
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &state{b: &build{opts: Options{Root: root}}}
	sock, err := s.agentProxy(agent, &instructions.Mount{Type: instructions.MountTypeSSH})
	if err != nil {
		t.Fatal(err)
	}
	if got := askAgent(t, sock); got != "pong\n" {
		t.Errorf("through the proxy: %q, want pong", got)
	}
	s.cleanupRun()
	if _, err := os.Stat(sock); err == nil {
		t.Error("the proxy socket outlived the step")
	}
}

// TestIdenticalLayersStack runs steps that change nothing, so their layers
// are the same and share one unpacked directory, which overlay refuses to
// stack twice: a later step must still run.
func TestIdenticalLayersStack(t *testing.T) {
	img, _, err := buildIn(t, t.TempDir(), t.TempDir(),
		"FROM busybox\nRUN true\nRUN true\nRUN echo ok > /ok\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := flatten(t, img)["ok"].Content; got != "ok\n" {
		t.Errorf("/ok = %q", got)
	}
}
