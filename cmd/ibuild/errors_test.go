package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ibuild/ibuild/builder"
)

// buildErr is a build error as runBuild returns it: an InstructionError
// at line of src, wrapped like the builder wraps it.
func buildErr(src string, line int, text string, err error) error {
	ie := &builder.InstructionError{File: "Dockerfile", Line: line, Text: text, Err: err}
	return &sourceError{err: fmt.Errorf("building stage 0: %w", ie), name: "Dockerfile",
		src: []byte(src)}
}

var errorCases = []struct {
	name     string
	err      error
	wantCode int
}{
	{"flag_typo", buildErr("FROM busybox\nCOPY --form=build /out /app\n", 2,
		"COPY --form=build /out /app", errors.New("unknown flag: --form (did you mean from?)")),
		exitFailed},
	{"instruction_typo", buildErr("FROM busybox\n\tRUNN make\n", 2, "RUNN make",
		errors.New("unknown instruction: RUNN (did you mean RUN?)")), exitFailed},
	{"missing_file", buildErr("FROM busybox\nCOPY app.conf /etc/\n", 2, "COPY app.conf /etc/",
		fmt.Errorf("%q: not found", "/app.conf")), exitFailed},
	{"run_failed", buildErr("FROM busybox\nRUN echo one; \\\n  echo two; exit 3\nCMD [\"sh\"]\n", 2,
		"RUN echo one;   echo two; exit 3", &builder.RunError{
			Command: "/bin/sh -c echo one;   echo two; exit 3", Code: 3, Tail: "one\ntwo\n"}),
		exitFailed},
	{"no_line", buildErr("", 0, "",
		errors.New("no build stage: a Dockerfile needs at least one FROM")),
		exitFailed},
	{"registry", errors.New("pushing localhost:5000/app:1: HTTP 401 Unauthorized: " +
		"UNAUTHORIZED: authentication required (check the credentials for localhost:5000, " +
		"e.g. docker login localhost:5000, and that the repository exists)"), exitFailed},
	{"usage",
		usageError{errors.New("--progress \"fancy\": use auto, plain, tty, quiet or rawjson")},
		exitUsage},
	{"cobra_usage", errors.New(`unknown command "foo" for "ibuild completion"`), exitUsage},
}

// TestErrorGolden checks the error reports against golden files, and the
// exit code of each.
func TestErrorGolden(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if code := reportError(&buf, tc.err, palette{}); code != tc.wantCode {
				t.Errorf("exit code %d, want %d", code, tc.wantCode)
			}
			golden(t, "error_"+tc.name, buf.String())
		})
	}
}

// TestErrorColour checks that colours appear only when asked for, and then
// on ERROR and the caret.
func TestErrorColour(t *testing.T) {
	err := errorCases[0].err
	plain := formatError(err, palette{})
	if strings.Contains(plain, "\x1b") {
		t.Errorf("escape codes without colour:\n%q", plain)
	}
	coloured := formatError(err, palette{on: true})
	for _, want := range []string{red + bold + "ERROR:" + reset, red + bold + "^^^^^^" + reset} {
		if !strings.Contains(coloured, want) {
			t.Errorf("coloured report lacks %q:\n%q", want, coloured)
		}
	}
}

// TestSpan checks which part of a line the caret goes under.
func TestSpan(t *testing.T) {
	tests := []struct {
		name, line, msg string
		want            string
	}{
		{"flag", "COPY --form=x a /a", "unknown flag: --form", "--form"},
		{"flag without dashes", "ADD --chmown=1 a /a", "unknown flag chmown", "--chmown"},
		{"instruction", "RUNN make", "unknown instruction: RUNN (did you mean RUN?)", "RUNN"},
		{"quoted path", "COPY nothere /x", `"/nothere": not found`, "nothere"},
		{"whole words only", "COPY ab b /x", `"/b": not found`, "b"},
		{"pulled image", "FROM alpine:3.99", "pulling alpine:3.99: HTTP 404", "alpine:3.99"},
		{"nothing named", "RUN false", "exit code: 1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if s, e := span(tc.line, tc.msg); s >= 0 {
				got = tc.line[s:e]
			}
			if got != tc.want {
				t.Errorf("span(%q, %q) = %q, want %q", tc.line, tc.msg, got, tc.want)
			}
		})
	}
}
