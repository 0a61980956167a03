package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// ANSI SGR codes the progress display and the error report use.
const (
	reset  = "\x1b[0m"
	bold   = "\x1b[1m"
	faint  = "\x1b[2m"
	red    = "\x1b[31m"
	yellow = "\x1b[33m"
	blue   = "\x1b[34m"
)

// palette paints text with ANSI colours when on, and leaves it alone
// otherwise.
type palette struct{ on bool }

func (p palette) paint(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return code + s + reset
}

// terminalFd returns the file descriptor of w (a reader or writer) when
// it is a terminal.
func terminalFd(w any) (int, bool) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, false
	}
	fd := int(f.Fd())
	return fd, term.IsTerminal(fd)
}

// colourFor is the palette for output to w: colours on a terminal only,
// never with NO_COLOR set (https://no-color.org) or TERM=dumb.
func colourFor(w io.Writer, getenv func(string) string) palette {
	_, tty := terminalFd(w)
	return palette{on: tty && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"}
}

// termSize is the width and height of the terminal w, or 80x24.
func termSize(w io.Writer) (int, int) {
	if fd, ok := terminalFd(w); ok {
		if cols, rows, err := term.GetSize(fd); err == nil && cols > 0 && rows > 0 {
			return cols, rows
		}
	}
	return 80, 24
}
