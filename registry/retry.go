package registry

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits of the retries resilientTransport adds to go-containerregistry's
// own (which repeat a failed request three times, 1 s and 3 s apart, on a
// network error or a 408, 429, 500, 502, 503 or 504).
const (
	// DefaultStallTimeout is Options.StallTimeout when it is zero.
	DefaultStallTimeout = 60 * time.Second
	// retryAfterTries bounds how often one request is repeated because the
	// registry answered 429 or 503 with Retry-After.
	retryAfterTries = 4
	// maxRetryAfter caps the wait a registry can ask for.
	maxRetryAfter = 30 * time.Second
	// resumeTries bounds how often one blob download is resumed.
	resumeTries = 5
)

// resilientTransport is the innermost transport of every registry request:
//
//   - A 429 or 503 answer with a Retry-After header, to a request that can
//     be sent again (no body, or one GetBody renews), is repeated after the
//     time the registry asks for, up to 30 s and 4 times.
//   - A blob download that breaks off (connection reset, stall) continues
//     where it stopped with a Range request, up to 5 times; the digest
//     go-containerregistry checks at the end covers the joined stream.
//   - A request that gets no answer, or a download that gets no byte, for
//     the stall timeout fails as temporary, which the outer retries repeat.
type resilientTransport struct {
	inner http.RoundTripper
	stall time.Duration
}

// resilient wraps rt in resilientTransport.
func (o Options) resilient(rt http.RoundTripper) http.RoundTripper {
	stall := o.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	return &resilientTransport{inner: rt, stall: stall}
}

// RoundTrip implements http.RoundTripper.
func (t *resilientTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for try := 1; ; try++ {
		resp, err := t.send(req)
		if err != nil {
			return nil, err
		}
		wait, ok := retryAfter(resp)
		if !ok || try == retryAfterTries || !replayable(req) {
			return t.maybeResumable(req, resp), nil
		}
		resp.Body.Close()
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		if req, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// retryAfter returns how long a 429 or 503 answer asks to wait.
func retryAfter(resp *http.Response) (time.Duration, bool) {
	if resp.StatusCode != http.StatusTooManyRequests &&
		resp.StatusCode != http.StatusServiceUnavailable {
		return 0, false
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var wait time.Duration
	if secs, err := strconv.Atoi(v); err == nil {
		wait = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		wait = time.Until(at)
	} else {
		return 0, false
	}
	return min(max(wait, 0), maxRetryAfter), true
}

// replayable reports whether req can be sent again as it is.
func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// rewind returns req ready to be sent again, with a fresh body.
func rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	return r, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
