package registry

import (
	"crypto/tls"
	"net/http"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// insecureTransport sends HTTPS requests for insecure hosts (loopback and
// Options.Insecure) through a transport that does not verify certificates,
// as Docker tries an insecure registry over HTTPS without verification
// before plain HTTP. Other requests go through the shared secure transport.
type insecureTransport struct {
	opts   Options
	secure *http.Transport

	once     sync.Once
	noVerify *http.Transport
}

// RoundTrip implements http.RoundTripper.
func (t *insecureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" || !t.opts.isInsecure(req.URL.Host) {
		return t.secure.RoundTrip(req)
	}
	t.once.Do(func() {
		t.noVerify = t.secure.Clone()
		// The user asked for this host to be insecure.
		t.noVerify.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec
	})
	return t.noVerify.RoundTrip(req)
}

// httpTransport is the transport for o: the caller's when set, else
// remote.DefaultTransport with certificate checks off for insecure hosts.
func (o Options) httpTransport() http.RoundTripper {
	if o.Transport != nil {
		return o.Transport
	}
	base, ok := remote.DefaultTransport.(*http.Transport)
	if !ok {
		return remote.DefaultTransport
	}
	return &insecureTransport{opts: o, secure: base}
}
