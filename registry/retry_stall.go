package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// errStalled is why a request was cut: the registry sent nothing for
// Options.StallTimeout.
var errStalled = errors.New("registry stalled")

// stallError is the error of a request the registry left hanging. It is
// temporary, so go-containerregistry's retries (which look for a
// Temporary method on the error itself) repeat the request.
type stallError struct {
	req   string // method and URL
	after time.Duration
}

func (e *stallError) Error() string {
	return fmt.Sprintf("%s: no response from the registry for %s", e.req, e.after)
}
func (e *stallError) Temporary() bool { return true }
func (e *stallError) Unwrap() error   { return errStalled }

// uploadAnswerFactor scales the stall timeout for the answer to a request
// with a body: the transport hands the last bytes to the kernel long before
// a slow link delivers them, so the wait for the answer includes sending
// what the socket buffers still hold.
const uploadAnswerFactor = 5

// send makes one attempt that must not stall: the request body must be
// taken at least every stall timeout (an upload may take long, but not
// stop), the response must start within the stall timeout (five of them
// after the last byte of a body), and its body must not stall either. The
// returned body cancels the attempt when closed.
func (t *resilientTransport) send(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	stalled := &stallError{req: req.Method + " " + req.URL.Redacted(), after: t.stall}
	timer := &stallTimer{d: t.stall}
	timer.t = time.AfterFunc(t.stall, func() { cancel(stalled) })
	out := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		out.Body = &activeBody{rc: req.Body, timer: timer, left: req.ContentLength}
		if req.GetBody != nil {
			out.GetBody = func() (io.ReadCloser, error) {
				rc, err := req.GetBody()
				if err != nil {
					return nil, err
				}
				return &activeBody{rc: rc, timer: timer, left: req.ContentLength}, nil
			}
		}
	}
	resp, err := t.inner.RoundTrip(out)
	timer.stop()
	if err != nil {
		cancel(nil)
		if context.Cause(ctx) == error(stalled) {
			return nil, stalled
		}
		return nil, err
	}
	resp.Body = &watchedBody{rc: resp.Body, ctx: ctx, cancel: cancel, stalled: stalled}
	return resp, nil
}

// stallTimer fires unless pushed back in time, until it is stopped.
type stallTimer struct {
	mu      sync.Mutex
	t       *time.Timer
	d       time.Duration
	stopped bool
}

// push gives the timer n more stall timeouts from now.
func (s *stallTimer) push(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.t.Reset(time.Duration(n) * s.d)
	}
}

func (s *stallTimer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	s.t.Stop()
}

// activeBody is a request body that pushes the stall timer back each time
// the transport takes more of it.
type activeBody struct {
	rc    io.ReadCloser
	timer *stallTimer
	left  int64 // bytes the request says are still to come; <= 0: unknown
}

func (b *activeBody) Read(p []byte) (int, error) {
	b.timer.push(1)
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if err == io.EOF || b.left == 0 {
		b.timer.push(uploadAnswerFactor)
	} else {
		b.timer.push(1)
	}
	return n, err
}

func (b *activeBody) Close() error { return b.rc.Close() }

// watchedBody cancels its request when one Read waits longer than the stall
// timeout, so a registry that stops sending fails the read instead of
// hanging it.
type watchedBody struct {
	rc      io.ReadCloser
	ctx     context.Context
	cancel  context.CancelCauseFunc
	stalled *stallError
}

func (b *watchedBody) Read(p []byte) (int, error) {
	timer := time.AfterFunc(b.stalled.after, func() { b.cancel(b.stalled) })
	n, err := b.rc.Read(p)
	timer.Stop()
	if err != nil && err != io.EOF && context.Cause(b.ctx) == error(b.stalled) {
		err = b.stalled
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
