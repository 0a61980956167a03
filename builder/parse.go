package builder

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// dockerfile is a parsed Dockerfile: its stages in order and the ARGs that
// come before the first FROM.
type dockerfile struct {
	name     string
	stages   []instructions.Stage
	metaArgs []instructions.ArgCommand
	escape   rune
	warnings []string
}

var parseLine = regexp.MustCompile(`^dockerfile parse error on line (\d+): `)

// parseDockerfile parses src, the Dockerfile called name. Every error names
// the file and line.
func parseDockerfile(name string, src []byte) (*dockerfile, error) {
	if bytes.IndexByte(src, 0) >= 0 {
		line := bytes.Count(src[:bytes.IndexByte(src, 0)], []byte("\n")) + 1
		return nil, &InstructionError{File: name, Line: line,
			Err: errors.New("the Dockerfile contains a NUL byte; is it a binary file?")}
	}
	res, err := parser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, withLongLine(locationError(name, err), src)
	}
	df := &dockerfile{name: name, escape: res.EscapeToken}
	for _, w := range res.Warnings {
		df.warnings = append(df.warnings, lineWarning(name, w.Location, w.Short))
	}
	lint := linter.New(&linter.Config{Warn: func(rule, desc, url, msg string, loc []parser.Range) {
		df.warnings = append(df.warnings, lineWarning(name, firstRange(loc), rule+": "+msg))
	}})
	df.stages, df.metaArgs, err = instructions.Parse(res.AST, lint)
	if err != nil {
		if m := parseLine.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return nil, &InstructionError{File: name, Line: n, Text: sourceLine(src, n),
				Err: cleanParseError(err)}
		}
		return nil, locationError(name, err)
	}
	if len(df.stages) == 0 {
		return nil, &InstructionError{File: name,
			Err: errors.New("no build stage: a Dockerfile needs at least one FROM")}
	}
	if w := syntaxWarning(src); w != "" {
		df.warnings = append(df.warnings, name+": "+w)
	}
	return df, nil
}

// withLongLine puts the right line number on the parser's error for a line
// longer than it reads, which names the line it started at instead.
func withLongLine(err error, src []byte) error {
	var ie *InstructionError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "greater than max allowed size") {
		return err
	}
	for i, line := range bytes.Split(src, []byte("\n")) {
		if len(line) >= bufio.MaxScanTokenSize-1 {
			ie.Line = i + 1
			break
		}
	}
	return err
}

func firstRange(loc []parser.Range) *parser.Range {
	if len(loc) == 0 {
		return nil
	}
	return &loc[0]
}

func lineWarning(file string, r *parser.Range, msg string) string {
	if r == nil || r.Start.Line == 0 {
		return fmt.Sprintf("%s: %s", file, msg)
	}
	return fmt.Sprintf("%s:%d: %s", file, r.Start.Line, msg)
}

func sourceLine(src []byte, n int) string {
	lines := strings.Split(string(src), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[n-1])
}

// syntaxWarning reports a `# syntax=` directive that names another frontend:
// ibuild always builds with its own implementation of the standard syntax.
func syntaxWarning(src []byte) string {
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "#") {
			return ""
		}
		k, v, ok := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#")), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "syntax") {
			continue
		}
		v = strings.TrimSpace(v)
		if !strings.HasPrefix(v, "docker/dockerfile") &&
			!strings.HasPrefix(v, "docker.io/docker/dockerfile") {
			return fmt.Sprintf("syntax %q is not the standard frontend; "+
				"building with ibuild's Dockerfile implementation", v)
		}
	}
	return ""
}
