package registry

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maybeResumable makes the body of a blob download resume when it breaks.
func (t *resilientTransport) maybeResumable(req *http.Request, resp *http.Response) *http.Response {
	if req.Method != http.MethodGet || resp.StatusCode != http.StatusOK ||
		!strings.Contains(req.URL.Path, "/blobs/") {
		return resp
	}
	resp.Body = &resumingBody{t: t, req: req, body: resp.Body}
	return resp
}

// resumingBody reads a blob download and, when the stream breaks off before
// its end, asks for the rest with a Range request and goes on reading.
type resumingBody struct {
	t      *resilientTransport
	req    *http.Request
	body   io.ReadCloser
	read   int64 // bytes handed to the reader so far
	tries  int
	broken error // why the current stream ended early, once it did
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		if b.broken == nil {
			n, err := b.body.Read(p)
			b.read += int64(n)
			if err == nil || err == io.EOF || !b.resumable() {
				return n, err
			}
			b.broken = err
			if n > 0 {
				return n, nil
			}
		}
		if err := b.resume(); err != nil {
			return 0, err
		}
		b.broken = nil
	}
}

// resumable reports whether one more attempt is allowed: the caller still
// wants the data and the tries are not used up.
func (b *resumingBody) resumable() bool {
	return b.req.Context().Err() == nil && b.tries < resumeTries
}

// resume replaces the broken stream by one that starts where it stopped,
// waiting a little longer before each try.
func (b *resumingBody) resume() error {
	b.body.Close()
	for b.resumable() {
		b.tries++
		if err := sleep(b.req.Context(), time.Duration(b.tries)*200*time.Millisecond); err != nil {
			return err
		}
		body, err := b.rest()
		if err == nil {
			b.body = body
			return nil
		}
		b.broken = fmt.Errorf("%w; resuming: %w", b.broken, err)
	}
	return fmt.Errorf("%s %s: download broke off after %d bytes, %d resumes: %w",
		b.req.Method, b.req.URL.Redacted(), b.read, b.tries, b.broken)
}

// rest requests the blob from byte b.read on. A registry that ignores the
// Range header sends it all, and the part already read is skipped.
func (b *resumingBody) rest() (io.ReadCloser, error) {
	r := b.req.Clone(b.req.Context())
	r.Header.Set("Range", "bytes="+strconv.FormatInt(b.read, 10)+"-")
	resp, err := b.t.send(r)
	if err != nil {
		return nil, err
	}
	from := "bytes " + strconv.FormatInt(b.read, 10) + "-"
	switch {
	case resp.StatusCode == http.StatusPartialContent &&
		strings.HasPrefix(resp.Header.Get("Content-Range"), from):
		return resp.Body, nil
	case resp.StatusCode == http.StatusOK:
		if _, err := io.CopyN(io.Discard, resp.Body, b.read); err != nil {
			resp.Body.Close()
			return nil, err
		}
		return resp.Body, nil
	}
	resp.Body.Close()
	return nil, fmt.Errorf("status %s", resp.Status)
}

func (b *resumingBody) Close() error { return b.body.Close() }
