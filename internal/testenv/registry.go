package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// registryStartTimeout bounds how long a registry may take to answer /v2/.
const registryStartTimeout = 20 * time.Second

// registryConfig is the docker-registry (distribution 2.x) configuration:
// filesystem storage, deletes allowed, loopback only, quiet logs.
const registryConfig = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
`

// Registry starts a registry server (Debian's docker-registry) on
// 127.0.0.1 with storage in a temporary directory, stops it when the test
// ends, and returns its address, "127.0.0.1:PORT". It speaks plain HTTP.
func Registry(t testing.TB) string {
	t.Helper()
	addr, stop, err := StartRegistry()
	Check(t, err)
	t.Cleanup(stop)
	return addr
}

// StartRegistry is [Registry] for use outside a test, typically in TestMain
// to share one server across a package's tests. The caller must call stop,
// which kills the server and removes its storage. An error for a missing
// docker-registry wraps [exec.ErrNotFound]; pass it to [Check] in each test.
func StartRegistry() (addr string, stop func(), err error) {
	bin, err := registryBinary()
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "ibuild-registry-")
	if err != nil {
		return "", nil, fmt.Errorf("starting registry: %w", err)
	}
	// A free port can be taken by someone else between our probe and the
	// server's listen; try a few ports before giving up.
	for range 3 {
		var p *registryProc
		p, err = startRegistryProc(bin, dir)
		if err == nil {
			return p.addr, func() { p.stop(); os.RemoveAll(dir) }, nil
		}
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	os.RemoveAll(dir)
	return "", nil, err
}

// registryBinary finds docker-registry in PATH or where Debian installs it.
func registryBinary() (string, error) {
	if p, err := exec.LookPath("docker-registry"); err == nil {
		return p, nil
	}
	const debian = "/usr/bin/docker-registry"
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", fmt.Errorf("docker-registry (Debian package docker-registry): %w",
		exec.ErrNotFound)
}

// registryProc is one running registry server.
type registryProc struct {
	addr    string
	cmd     *exec.Cmd
	out     *syncBuffer
	exited  chan struct{} // closed when the process has been waited for
	release func()        // lets go of the thread that started the process
}

// startRegistryProc starts docker-registry with storage under dir on a free
// loopback port and waits until it answers.
func startRegistryProc(bin, dir string) (*registryProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "config.yml")
	storage := filepath.Join(dir, "storage")
	text := fmt.Sprintf(registryConfig, storage, addr)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, fmt.Errorf("writing registry config: %w", err)
	}

	p := &registryProc{addr: addr, out: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", conf)
	p.cmd.Env = withoutPrefix(os.Environ(), "REGISTRY_") // they override the config
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// Kill the server if the test process dies without running its cleanups
	// (a test timeout panics, for one).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if p.release, err = startPinned(p.cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { p.cmd.Wait(); close(p.exited) }()

	if err := p.wait(); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// wait polls GET /v2/ until the server answers, dies, or takes too long.
func (p *registryProc) wait() error {
	ctx, cancel := context.WithTimeout(context.Background(), registryStartTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + p.addr + "/v2/"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("docker-registry on %s exited (%v): %s",
				p.addr, p.cmd.ProcessState, p.out)
		case <-ctx.Done():
			return fmt.Errorf("docker-registry on %s did not answer %s within %v: %s",
				p.addr, url, registryStartTimeout, p.out)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop kills the server by its PID and waits for it to exit.
func (p *registryProc) stop() {
	p.cmd.Process.Kill()
	<-p.exited
	p.release()
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startPinned starts cmd from a goroutine locked to its OS thread and keeps
// that thread until release is called. The kernel sends Pdeathsig when the
// thread that forked the child exits, and the Go runtime may end an
// unlocked thread at any time; a thread we hold lives as long as the process.
func startPinned(cmd *exec.Cmd) (release func(), err error) {
	started := make(chan error)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			<-done
		}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }, nil
}

// withoutPrefix returns env without the variables whose names start with
// prefix.
func withoutPrefix(env []string, prefix string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, prefix) {
			out = append(out, kv)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a child's
// stdout and stderr and reads by the waiting test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far, trimmed, or "(no output)".
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := strings.TrimSpace(b.buf.String()); s != "" {
		return s
	}
	return "(no output)"
}
