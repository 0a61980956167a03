package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// CheckLogin asks the registry at host (host[:port]) whether it accepts
// user and password, as `docker login` does before it stores them: it
// sends them as basic auth or trades them for a token, whichever the
// registry's challenge asks for, and then requests /v2/. A registry that
// asks for no credentials accepts any.
func (o Options) CheckLogin(ctx context.Context, host, user, password string) error {
	var opts []name.Option
	if o.isInsecure(host) {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	auth := &authn.Basic{Username: user, Password: password}
	rt, err := transport.NewWithContext(ctx, reg, auth, o.httpTransport(), nil)
	if err != nil {
		return loginError(host, user, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		"https://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", host, err)
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return loginError(host, user, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return loginError(host, user, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// loginError names the registry, the user and the HTTP status, with a hint
// for refused credentials and for registries that speak plain HTTP.
func loginError(host, user string, err error) error {
	var te *transport.Error
	if errors.As(err, &te) && te.StatusCode != 0 {
		hint := ""
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			hint = " (check the user name and the password or access token)"
		}
		return fmt.Errorf("logging in to %s as %s: HTTP %d %s: %w%s", host, user,
			te.StatusCode, http.StatusText(te.StatusCode), err, hint)
	}
	if plainHTTPServer(err) {
		return fmt.Errorf("logging in to %s: %w (%s speaks plain HTTP: use --insecure-registry %s)",
			host, err, host, host)
	}
	return fmt.Errorf("logging in to %s: %w", host, err)
}
