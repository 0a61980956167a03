package main

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/ibuild/ibuild/builder"
)

// sourceError is a build error with the Dockerfile it came from, so that
// the report can quote the lines at fault.
type sourceError struct {
	err  error
	name string // the Dockerfile's name, as InstructionError.File has it
	src  []byte
}

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// cobraUsage are the openings of cobra's own errors about the command line.
var cobraUsage = []string{"unknown command ", "unknown flag: ", "unknown shorthand flag: ",
	"required flag(s) ", "accepts ", "invalid argument ", "flag needs an argument"}

// isUsage reports whether err is about how ibuild was called.
func isUsage(err error) bool {
	var ue usageError
	if errors.As(err, &ue) {
		return true
	}
	for _, p := range cobraUsage {
		if strings.HasPrefix(err.Error(), p) {
			return true
		}
	}
	return false
}

// reportError prints err for a person and returns the exit code: 2 for a
// usage error, 1 for anything else.
func reportError(w io.Writer, err error, p palette) int {
	io.WriteString(w, formatError(err, p))
	if isUsage(err) {
		return exitUsage
	}
	return exitFailed
}

// formatError renders err: for a failed RUN the last lines of its output,
// for a Dockerfile error the lines at fault with a caret under the part
// the message names, and last the message itself.
func formatError(err error, p palette) string {
	var b strings.Builder
	msg := err.Error()
	var ie *builder.InstructionError
	var se *sourceError
	var src []byte
	if errors.As(err, &ie) && errors.As(err, &se) && se.name == ie.File && ie.Line > 0 {
		src = se.src
		// The excerpt shows where; the message keeps what went wrong.
		msg = strings.Replace(msg, ie.Error(), ie.Err.Error(), 1)
	}
	var re *builder.RunError
	if errors.As(err, &re) {
		short := fmt.Sprintf("process %q did not complete successfully: exit code: %d",
			re.Command, re.Code)
		msg = strings.Replace(msg, re.Error(), short, 1)
		title := re.Command
		if ie != nil && ie.Text != "" {
			title = firstLine(strings.TrimSpace(ie.Text))
		}
		writeTail(&b, title, re.Tail)
	}
	if src != nil {
		writeExcerpt(&b, ie, src, msg, p)
	}
	if isUsage(err) && !strings.Contains(msg, "--help") {
		msg += "\nSee 'ibuild --help'."
	}
	fmt.Fprintf(&b, "%s %s\n", p.paint(red+bold, "ERROR:"), msg)
	return b.String()
}

// writeTail prints the last output lines of a failed step as BuildKit does.
func writeTail(b *strings.Builder, title, tail string) {
	tail = strings.TrimRight(tail, "\n")
	if tail == "" {
		return
	}
	fmt.Fprintf(b, "------\n > %s:\n", title)
	for _, l := range strings.Split(tail, "\n") {
		b.WriteString(strings.TrimRight(l, "\r") + "\n")
	}
	b.WriteString("------\n")
}

// maxExcerpt is how many lines of one instruction an error quotes, and
// maxExcerptWidth how many bytes of each (a hostile Dockerfile's line can
// be 64 kB long).
const (
	maxExcerpt      = 6
	maxExcerptWidth = 200
)

// writeExcerpt prints "Dockerfile:12", the instruction's lines (with its
// continuation lines) and a caret line under the part msg names, or under
// the whole first line.
func writeExcerpt(b *strings.Builder, ie *builder.InstructionError, src []byte, msg string,
	p palette) {
	lines := strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
	if ie.Line > len(lines) {
		return
	}
	last := ie.Line
	for last < len(lines) && last-ie.Line+1 < maxExcerpt &&
		strings.HasSuffix(strings.TrimRight(lines[last-1], " \t"), "\\") {
		last++
	}
	caretLine, start, end := ie.Line, -1, -1
	for n := ie.Line; n <= last && start < 0; n++ {
		if s, e := span(lines[n-1], msg); s >= 0 {
			caretLine, start, end = n, s, e
		}
	}
	fmt.Fprintf(b, "%s\n", p.paint(bold, fmt.Sprintf("%s:%d", ie.File, ie.Line)))
	width := len(fmt.Sprint(last))
	for n := ie.Line; n <= last; n++ {
		line, cut := cutLine(lines[n-1])
		fmt.Fprintf(b, " %*d | %s%s\n", width, n, line, cut)
		if n != caretLine {
			continue
		}
		if start < 0 {
			trimmed := strings.TrimRight(line, " \t")
			start = len(trimmed) - len(strings.TrimLeft(trimmed, " \t"))
			end = len(trimmed)
		}
		end = min(end, len(line))
		if end <= start {
			continue
		}
		fmt.Fprintf(b, " %*s | %s%s\n", width, "", indentLike(line[:start]),
			p.paint(red+bold, strings.Repeat("^", len([]rune(line[start:end])))))
	}
}

// cutLine shortens line to maxExcerptWidth bytes, at a character boundary,
// and returns "…" as the mark of a cut.
func cutLine(line string) (string, string) {
	if len(line) <= maxExcerptWidth {
		return line, ""
	}
	i := maxExcerptWidth
	for i > 0 && !utf8.RuneStart(line[i]) {
		i--
	}
	return line[:i], "…"
}

// indentLike is blank space as wide as s, keeping its tabs.
func indentLike(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '\t' {
			b.WriteRune('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

var (
	unknownFlag  = regexp.MustCompile(`unknown flag:? (?:--)?([A-Za-z0-9-]+)`)
	unknownInstr = regexp.MustCompile(`unknown instruction: (\S+)`)
	quoted       = regexp.MustCompile(`"([^"\n]{2,})"|'([^'\n]{2,})'`)
	pulledRef    = regexp.MustCompile(`(?:pulling|resolving|looking up) ([^\s:]+(?::[^\s:]+)?):`)
)

// span finds in line the part msg names (an unknown flag or instruction,
// or a quoted word) and returns its byte offsets, or -1, -1.
func span(line, msg string) (int, int) {
	var cands []string
	if m := unknownFlag.FindStringSubmatch(msg); m != nil {
		cands = append(cands, "--"+m[1])
	}
	if m := unknownInstr.FindStringSubmatch(msg); m != nil {
		cands = append(cands, m[1])
	}
	for _, m := range quoted.FindAllStringSubmatch(msg, -1) {
		// "/nothere" names the context path nothere.
		cands = append(cands, m[1]+m[2], strings.TrimPrefix(m[1]+m[2], "/"))
	}
	if m := pulledRef.FindStringSubmatch(msg); m != nil {
		cands = append(cands, m[1])
	}
	for _, c := range cands {
		if i := wordIndex(line, c); i >= 0 {
			return i, i + len(c)
		}
	}
	return -1, -1
}

// wordIndex finds word in line where it is not part of a longer word,
// ignoring case; -1 when it is not there.
func wordIndex(line, word string) int {
	if word == "" {
		return -1
	}
	low, w := strings.ToLower(line), strings.ToLower(word)
	for from := 0; from < len(low); {
		i := strings.Index(low[from:], w)
		if i < 0 {
			return -1
		}
		i += from
		end := i + len(w)
		if (i == 0 || !isWordByte(low[i-1])) && (end == len(low) || !isWordByte(low[end])) {
			return i
		}
		from = i + 1
	}
	return -1
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' ||
		c >= 0x80
}
