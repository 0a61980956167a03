package registry

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// faultProxy is a reverse proxy on 127.0.0.1 in front of a registry that
// breaks the requests its rules match, in the ways a network and a busy
// registry do, and records every request.
type faultProxy struct {
	addr     string
	upstream *url.URL
	rp       *httputil.ReverseProxy
	done     chan struct{}

	mu    sync.Mutex
	rules []*faultRule
	log   []proxied
}

// faultRule breaks the next times requests (all, when times < 0) whose
// method is method (any when "") and whose path contains path.
type faultRule struct {
	method, path string
	times        int
	act          func(p *faultProxy, w http.ResponseWriter, r *http.Request)
}

// proxied is one request the proxy saw.
type proxied struct {
	method, path, rng string
	faulty            bool
	at                time.Time
}

func newFaultProxy(t *testing.T, registry string) *faultProxy {
	t.Helper()
	up := &url.URL{Scheme: "http", Host: registry}
	p := &faultProxy{upstream: up, rp: httputil.NewSingleHostReverseProxy(up),
		done: make(chan struct{})}
	p.rp.ErrorLog = nil
	srv := httptest.NewServer(p)
	t.Cleanup(func() { close(p.done); srv.Close() })
	p.addr = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// add installs a rule; the first matching rule applies.
func (p *faultProxy) add(method, path string, times int,
	act func(*faultProxy, http.ResponseWriter, *http.Request)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, &faultRule{method: method, path: path, times: times, act: act})
}

// clear removes every rule.
func (p *faultProxy) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = nil
}

// seen returns the requests so far whose method and path match.
func (p *faultProxy) seen(method, path string) []proxied {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []proxied
	for _, r := range p.log {
		if (method == "" || r.method == method) && strings.Contains(r.path, path) {
			out = append(out, r)
		}
	}
	return out
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	var rule *faultRule
	for _, ru := range p.rules {
		if ru.times != 0 && (ru.method == "" || ru.method == r.Method) &&
			strings.Contains(r.URL.Path, ru.path) {
			rule = ru
			ru.times--
			break
		}
	}
	p.log = append(p.log, proxied{method: r.Method, path: r.URL.Path,
		rng: r.Header.Get("Range"), faulty: rule != nil, at: time.Now()})
	p.mu.Unlock()
	if rule == nil {
		p.rp.ServeHTTP(w, r)
		return
	}
	rule.act(p, w, r)
}

// status answers with code and the given header lines ("Name: value").
func status(code int, header ...string) func(*faultProxy, http.ResponseWriter, *http.Request) {
	return func(_ *faultProxy, w http.ResponseWriter, r *http.Request) {
		for _, h := range header {
			k, v, _ := strings.Cut(h, ": ")
			w.Header().Set(k, v)
		}
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(code)
	}
}

// fetch sends r to the registry and returns its response.
func (p *faultProxy) fetch(r *http.Request) (*http.Response, error) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.upstream.Scheme, p.upstream.Host
	return http.DefaultTransport.RoundTrip(out)
}

// resetAfter passes the response on, but cuts the connection with a TCP
// reset once n bytes of its body are sent.
func resetAfter(n int64) func(*faultProxy, http.ResponseWriter, *http.Request) {
	return func(p *faultProxy, w http.ResponseWriter, r *http.Request) {
		resp, err := p.fetch(r)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		copyHeader(w, resp)
		io.CopyN(w, resp.Body, n)
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with RST, as a broken network does
		}
		conn.Close()
	}
}

// stall accepts the request and never answers, until the client gives up.
func stall(p *faultProxy, _ http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-p.done:
	}
}

// slow passes the response on in chunks of size bytes, pausing between them.
func slow(size int, pause time.Duration) func(*faultProxy, http.ResponseWriter, *http.Request) {
	return func(p *faultProxy, w http.ResponseWriter, r *http.Request) {
		time.Sleep(pause)
		resp, err := p.fetch(r)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		copyHeader(w, resp)
		buf := make([]byte, size)
		for {
			n, err := io.ReadFull(resp.Body, buf)
			w.Write(buf[:n])
			w.(http.Flusher).Flush()
			if err != nil {
				return
			}
			time.Sleep(pause)
		}
	}
}

// slowUpload takes the request body in chunks of size bytes, pausing between
// them, as a slow link does, then passes the request on.
func slowUpload(size int, pause time.Duration) func(*faultProxy, http.ResponseWriter, *http.Request) {
	return func(p *faultProxy, w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		for {
			n, err := io.CopyN(&body, r.Body, int64(size))
			if err != nil || n == 0 {
				break
			}
			time.Sleep(pause)
		}
		r.Body = io.NopCloser(&body)
		r.ContentLength = int64(body.Len())
		p.rp.ServeHTTP(w, r)
	}
}

// corrupt passes the response on with one byte of its body changed.
func corrupt(p *faultProxy, w http.ResponseWriter, r *http.Request) {
	resp, err := p.fetch(r)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		b = bytes.Clone(b)
		b[len(b)/2] ^= 0xff
	}
	copyHeader(w, resp)
	w.Write(b)
}

func copyHeader(w http.ResponseWriter, resp *http.Response) {
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
}
