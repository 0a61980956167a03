package builder

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// InstructionError is the error of one Dockerfile instruction. It names the
// Dockerfile, the line and the instruction as written.
type InstructionError struct {
	File string // Dockerfile name as the user gave it
	Line int    // first line of the instruction, 1-based; 0 when unknown
	Text string // the instruction's source text
	Err  error
}

func (e *InstructionError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Text != "" {
		b.WriteString(": " + firstLine(e.Text))
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *InstructionError) Unwrap() error { return e.Err }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	more := ""
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s, more = s[:i], " …"
	}
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s + more
}

// shortened cuts s to at most max bytes, marking the cut, so that a huge
// instruction does not flood an error message.
func shortened(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return s[:max-3] + "..."
}

// cmdError wraps err with the location and text of cmd.
func cmdError(file string, cmd instructions.Command, err error) error {
	var ie *InstructionError
	if errors.As(err, &ie) {
		return err
	}
	e := &InstructionError{File: file, Err: err}
	if loc := cmd.Location(); len(loc) > 0 {
		e.Line = loc[0].Start.Line
	}
	if s, ok := cmd.(fmt.Stringer); ok {
		e.Text = s.String()
	}
	return e
}

// locationError converts an error from BuildKit's parser, which may carry a
// location, into an InstructionError.
func locationError(file string, err error) error {
	e := &InstructionError{File: file, Err: err}
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		e.Line = le.Locations[0][0].Start.Line
		e.Err = errors.Unwrap(le)
	}
	e.Err = cleanParseError(e.Err)
	return e
}

// cleanParseError drops BuildKit's "dockerfile parse error on line N:" prefix,
// since InstructionError prints the line itself.
func cleanParseError(err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "dockerfile parse error on line ") {
		if i := strings.Index(msg, ": "); i > 0 {
			return errors.New(msg[i+2:])
		}
	}
	return err
}
