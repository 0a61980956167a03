package builder

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/ibuild/ibuild/builder/sandbox"
)

// maxSocketPath is the longest path a unix socket address holds (108 bytes
// with the terminating NUL).
const maxSocketPath = 107

// sshMount forwards the SSH agent given with --ssh ID (default "default")
// into the step, as BuildKit does: a socket at the target (default
// /run/buildkit/ssh_agent.N for the Nth ssh mount) that proxies each
// connection to the agent, owned by uid:gid with the mode given (0600 by
// default), and SSH_AUTH_SOCK set to the first one unless the step's
// environment sets it. The agent's keys never leave it: the step can only
// ask the agent to sign, and only while the step runs.
func (s *state) sshMount(m *instructions.Mount, n int) (sandbox.Mount, bool, error) {
	id := m.CacheID
	if id == "" {
		id = "default"
	}
	if m.Source != "" {
		return sandbox.Mount{}, false, errors.New("RUN --mount=type=ssh does not take source")
	}
	agent, ok := s.b.opts.SSH[id]
	if !ok {
		if m.Required {
			return sandbox.Mount{}, false, fmt.Errorf(
				"ssh agent %q is required but was not given (--ssh %s=SOCKET)", id, id)
		}
		return sandbox.Mount{}, true, nil
	}
	target := m.Target
	if target == "" {
		target = fmt.Sprintf("/run/buildkit/ssh_agent.%d", n)
	}
	sock, err := s.agentProxy(agent, m)
	if err != nil {
		return sandbox.Mount{}, false, fmt.Errorf("forwarding ssh agent %q: %w", id, err)
	}
	if _, set := s.env.Get("SSH_AUTH_SOCK"); !set && n == 0 {
		s.secretEnv = append(s.secretEnv, "SSH_AUTH_SOCK="+target)
	}
	return sandbox.Mount{Type: "bind", Source: sock, Target: target}, false, nil
}

// agentProxy listens on a new socket that forwards every connection to the
// agent socket, until the step ends.
func (s *state) agentProxy(agent string, m *instructions.Mount) (string, error) {
	fi, err := os.Stat(agent)
	if err != nil {
		return "", err
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return "", fmt.Errorf("%s is not a socket (key files are not supported)", agent)
	}
	dir, err := socketDir(filepath.Join(s.b.opts.Root, "tmp"))
	if err != nil {
		return "", err
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	p := &agentForwarder{ln: ln, agent: agent, conns: map[net.Conn]bool{}}
	s.onRelease(func() { p.close(); os.RemoveAll(dir) })
	uid, gid := mountOwner(m)
	if err := os.Chmod(sock, mountMode(m, 0o600)); err != nil {
		return "", err
	}
	if err := os.Lchown(sock, uid, gid); err != nil {
		return "", err
	}
	go p.serve()
	return sock, nil
}

// socketDir makes a private directory for a socket under base, or under
// the system's temporary directory when base is too deep for a socket path.
func socketDir(base string) (string, error) {
	if len(base)+len("/ssh-0123456789/agent.sock") > maxSocketPath {
		base = os.TempDir()
	}
	return os.MkdirTemp(base, "ssh-")
}

// agentForwarder copies bytes between the step's connections and the agent.
type agentForwarder struct {
	ln    net.Listener
	agent string

	mu     sync.Mutex
	conns  map[net.Conn]bool
	closed bool
	wg     sync.WaitGroup
}

func (p *agentForwarder) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		a, err := net.Dial("unix", p.agent)
		if err != nil || !p.track(c, a) {
			c.Close()
			if a != nil {
				a.Close()
			}
			continue
		}
		p.wg.Add(2)
		go p.pipe(a, c)
		go p.pipe(c, a)
	}
}

// track records a pair of connections, unless the forwarder is closed.
func (p *agentForwarder) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range conns {
		p.conns[c] = true
	}
	return true
}

func (p *agentForwarder) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	// Pass the end of the stream on; the other direction may still run.
	if uc, ok := dst.(*net.UnixConn); ok {
		_ = uc.CloseWrite()
	}
}

// close stops accepting, cuts every open connection and waits for the
// copies to end.
func (p *agentForwarder) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
