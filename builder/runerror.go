package builder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
)

// RunError is a RUN step that exited with a non-zero status.
type RunError struct {
	Command string
	Code    int
	// Tail holds the last lines of the step's output.
	Tail string
}

func (e *RunError) Error() string {
	msg := fmt.Sprintf("process %q did not complete successfully: exit code: %d",
		shortened(e.Command, 1000), e.Code)
	if t := strings.TrimRight(e.Tail, "\n"); t != "" {
		msg += "\n--- last output lines ---\n" + t
	}
	return msg
}

// tailBuffer keeps the last max bytes written to it, cut at a line start.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return strings.Join(lines, "\n")
}

func multiWriter(w ...io.Writer) io.Writer { return io.MultiWriter(w...) }

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}
