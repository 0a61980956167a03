package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/ibuild/ibuild/internal/testenv"
	"github.com/ibuild/ibuild/registry"
)

// exitBound is how long ibuild may take to exit after a signal.
const exitBound = 10 * time.Second

// pushBase pushes busybox plus a layer of size random bytes to reg as repo
// and returns the reference.
func pushBase(t *testing.T, reg, repo string, size int64) string {
	t.Helper()
	l, err := random.Layer(size, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(testenv.BusyboxImage(t), l)
	if err != nil {
		t.Fatal(err)
	}
	ref := reg + "/" + repo
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	return ref
}

// run is one ibuild process, in a process group of its own.
type run struct {
	cmd *exec.Cmd
	out syncBuffer
}

// syncBuffer is a bytes.Buffer the test may read while ibuild writes it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits up to d for the output to contain s.
func (r *run) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		if strings.Contains(r.out.String(), s) {
			return
		}
		if exited(r.cmd.Process.Pid) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.wait(t, exitBound)
	t.Fatalf("ibuild never printed %q:\n%s", s, r.out.String())
}

func startIbuild(t *testing.T, dir string, args ...string) *run {
	t.Helper()
	return startIbuildAs(t, "", dir, args...)
}

// startIbuildAs starts ibuild as user (as the test's own user when "").
func startIbuildAs(t *testing.T, user, dir string, args ...string) *run {
	t.Helper()
	r := &run{cmd: exec.Command(testenv.Binary(t), args...)}
	r.cmd.Dir = dir
	r.cmd.Stdout, r.cmd.Stderr = &r.out, &r.out
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if user != "" {
		testenv.RunAs(t, user, r.cmd)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return r
}

// wait waits at most d for the process to exit and returns its exit code.
func (r *run) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case <-done:
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("ibuild did not exit within %s; output:\n%s", d, r.out.String())
		return -1
	}
}

// survivors lists the processes left in the run's process group or running
// the ibuild binary, waiting a little for the kernel to reap the dying.
func survivors(t *testing.T, pgid int, bin string) []string {
	t.Helper()
	var left []string
	for range 50 {
		left = left[:0]
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			var pid int
			if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
				continue
			}
			if g, _ := syscall.Getpgid(pid); g == pgid {
				left = append(left, procLine(pid))
				continue
			}
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe == bin {
				left = append(left, procLine(pid))
			}
		}
		if len(left) == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return left
}

func procLine(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return fmt.Sprintf("%d %s", pid, strings.ReplaceAll(string(b), "\x00", " "))
}

// mountsUnder lists the mounts of this mount namespace below dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append(out, line)
		}
	}
	return out
}

// storeImage returns the digest of ref in the store at root, after
// checking the image is whole.
func storeImage(t *testing.T, root, ref string) v1.Hash {
	t.Helper()
	s, err := registry.OpenImageStore(root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Image(ref)
	if err != nil {
		t.Fatalf("%s in the store: %v", ref, err)
	}
	if err := validate.Image(img); err != nil {
		t.Fatalf("%s in the store is not whole: %v", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// interruptCheck is what must hold after every interrupted build.
type interruptCheck struct {
	root, bin, tag string
	want           v1.Hash
	secret         string
}

func (c interruptCheck) verify(t *testing.T, r *run, sig syscall.Signal) {
	t.Helper()
	if left := survivors(t, r.cmd.Process.Pid, c.bin); len(left) > 0 {
		t.Errorf("processes left after %v:\n%s", sig, strings.Join(left, "\n"))
		for _, l := range left {
			var pid int
			fmt.Sscanf(l, "%d", &pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if m := mountsUnder(t, c.root); len(m) > 0 {
		t.Errorf("mounts left after %v:\n%s", sig, strings.Join(m, "\n"))
	}
	if sig != syscall.SIGKILL {
		if ents, _ := os.ReadDir(filepath.Join(c.root, "tmp")); len(ents) > 0 {
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			t.Errorf("left in ROOT/tmp after %v: %v", sig, names)
		}
	}
	if got := storeImage(t, c.root, c.tag); got != c.want {
		t.Errorf("after %v, %s is %s, want the earlier %s", sig, c.tag, got, c.want)
	}
	if c.secret != "" {
		if found := grepTree(t, c.root, c.secret); len(found) > 0 {
			t.Errorf("after %v the secret is in %v", sig, found)
		}
	}
}

// grepTree lists the regular files below dir that contain s.
func grepTree(t *testing.T, dir, s string) []string {
	t.Helper()
	var found []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(s)) {
				found = append(found, p)
			}
		}
		return nil
	})
	return found
}

// signalFor picks the signal of iteration i: SIGINT and SIGTERM, and every
// fifth time SIGKILL.
func signalFor(i int) syscall.Signal {
	switch {
	case i%5 == 4:
		return syscall.SIGKILL
	case i%2 == 0:
		return syscall.SIGINT
	}
	return syscall.SIGTERM
}

// randomDelay is a delay in [lo, hi).
func randomDelay(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rand.Int64N(int64(hi-lo)))
}
