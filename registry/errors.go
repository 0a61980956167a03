package registry

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// remoteError wraps err from asking src about ref (src is ref on another
// host for a mirror, whose name is then in mirror): it names the action,
// the reference and the mirror, the HTTP status when there was one, and
// what to try when the cause is a common one.
func remoteError(action string, ref, src name.Reference, mirror string, err error) error {
	host := src.Context().RegistryStr()
	via := ""
	if mirror != "" {
		via = " from mirror " + mirror
	}
	var status, hint string
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode != 0 {
		status = fmt.Sprintf("HTTP %d %s: ", te.StatusCode, http.StatusText(te.StatusCode))
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			hint = fmt.Sprintf(" (check the credentials for %s, e.g. docker login %s,"+
				" and that the repository exists)", host, host)
		}
	}
	// Plain-HTTP hosts are also tried over HTTPS first; only a host meant
	// to speak HTTPS deserves the hint.
	if src.Context().Scheme() == "https" {
		if plainHTTPServer(err) {
			hint = fmt.Sprintf(" (%s speaks plain HTTP: use --insecure-registry %s)", host, host)
		} else if certificateProblem(err) {
			hint = fmt.Sprintf(" (the TLS certificate of %s is not trusted: install its CA,"+
				" or use --insecure-registry %s)", host, host)
		}
	}
	if te != nil && te.StatusCode == http.StatusNotFound {
		// The registry's own words (MANIFEST_UNKNOWN and a detail map) say
		// no more than this.
		return &messageError{err: err, msg: fmt.Sprintf("%s %s%s: not found on %s "+
			"(HTTP 404; check the name and the tag)", action, fullName(ref), via, host)}
	}
	return fmt.Errorf("%s %s%s: %s%w%s", action, fullName(ref), via, status, err, hint)
}

// messageError is an error with a message of its own that still unwraps to
// the error it replaces.
type messageError struct {
	msg string
	err error
}

func (e *messageError) Error() string { return e.msg }
func (e *messageError) Unwrap() error { return e.err }

// plainHTTPServer reports whether err is a TLS handshake answered by a
// plain-HTTP server.
func plainHTTPServer(err error) bool {
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) {
		return true
	}
	return err != nil && strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
}

// certificateProblem reports whether err is a failed certificate check.
func certificateProblem(err error) bool {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &invalid) ||
		errors.As(err, &hostname) || errors.As(err, &verify)
}

// notThere reports whether a registry answered that it has no such
// repository or manifest.
func notThere(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) {
		return false
	}
	if te.StatusCode == http.StatusNotFound {
		return true
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.NameUnknownErrorCode, transport.ManifestUnknownErrorCode:
			return true
		}
	}
	return false
}

// unreachable reports whether err means the registry could not be talked
// to at all: no connection, no name resolution, a failed TLS handshake, or
// a gateway in front of it that says the server behind is down.
func unreachable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var op *net.OpError
	var dns *net.DNSError
	var nerr net.Error
	switch {
	case errors.As(err, &op), errors.As(err, &dns):
		return true
	case errors.As(err, &nerr) && nerr.Timeout():
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	}
	return plainHTTPServer(err) || certificateProblem(err)
}
