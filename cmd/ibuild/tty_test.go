package main

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ibuild/ibuild/builder"
)

// sgrCode matches an ANSI colour (SGR) sequence.
var sgrCode = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// ttyRun drives a live view on a fake terminal: events of a script, a
// frame drawn after each, as the redraw loop would.
type ttyRun struct {
	term  *vt
	raw   strings.Builder
	d     *ttyDisplay
	clock time.Time
	p     *progress
}

func newTTYRun(width, height int, colour bool) *ttyRun {
	r := &ttyRun{term: newVT(height), clock: t0}
	r.p = &progress{now: func() time.Time { return r.clock }}
	w := writerFunc(func(b []byte) (int, error) {
		r.raw.Write(b)
		return r.term.Write(b)
	})
	r.d = newTTYDisplay(w, palette{on: colour}, &r.p.mu, r.p.now)
	r.d.size = func() (int, int) { return width, height }
	r.p.d = r.d
	return r
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// step plays one event at its time and draws a frame.
func (r *ttyRun) step(s ev) {
	r.clock = at(s.sec)
	e := s.e
	e.Time = r.clock
	r.p.event(e)
	r.p.mu.Lock()
	r.d.draw(false)
	r.p.mu.Unlock()
}

// TestTTYGolden plays the build script on the live view and checks the
// screen while step 2 runs (its output shown under it) and at the end
// (every step collapsed to one line).
func TestTTYGolden(t *testing.T) {
	r := newTTYRun(72, 24, false)
	script := scripts["build"]
	for i, s := range script {
		r.step(s)
		if i == 5 { // step 2 has printed two lines
			golden(t, "tty_running", strings.Join(r.term.screen(), "\n")+"\n")
		}
	}
	r.clock = at(1.5)
	r.p.finish(nil)
	golden(t, "tty_final", strings.Join(r.term.screen(), "\n")+"\n")
	if len(r.term.unhandled) > 0 {
		t.Errorf("escape sequences the test terminal does not know: %q", r.term.unhandled)
	}
	if r.term.sgr != 0 {
		t.Errorf("%d colour sequences without colour", r.term.sgr)
	}
}

// TestTTYOverflow runs more steps than the terminal has lines: finished
// steps leave the redrawn part for good, and the end shows each step
// exactly once, in order.
func TestTTYOverflow(t *testing.T) {
	const steps = 12
	r := newTTYRun(60, 8, false)
	for n := 1; n <= steps; n++ {
		sec := float64(n)
		r.step(started(sec, n, fmt.Sprintf("[%d/%d] RUN step %d", n, steps, n)))
		for l := 0; l < 3; l++ {
			r.step(output(sec+0.1*float64(l), n, fmt.Sprintf("output %d.%d\n", n, l)))
		}
		r.step(done(sec+0.5, n, 0.5, false, nil))
	}
	r.clock = at(steps + 1)
	r.p.finish(nil)
	var got []string
	for _, l := range r.term.screen() {
		if strings.HasPrefix(l, " => ") {
			got = append(got, strings.Fields(l)[1]+" "+strings.Fields(l)[4])
		}
	}
	var want []string
	for n := 1; n <= steps; n++ {
		want = append(want, fmt.Sprintf("[%d/%d] %d", n, steps, n))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps on the final screen (-want +got):\n%s\nscreen:\n%s", diff,
			strings.Join(r.term.screen(), "\n"))
	}
	if s := strings.Join(r.term.screen(), "\n"); strings.Contains(s, "=> => #") {
		t.Errorf("output lines stayed on the final screen:\n%s", s)
	}
}

// TestTTYColour checks that finished steps are blue and failed ones red
// with colour on, and that no colour code is written with it off.
func TestTTYColour(t *testing.T) {
	for _, colour := range []bool{true, false} {
		r := newTTYRun(80, 24, colour)
		for _, s := range scripts["build"] {
			r.step(s)
		}
		r.p.finish(nil)
		raw := r.raw.String()
		codes := sgrCode.FindAllString(raw, -1)
		if !colour {
			if len(codes) > 0 {
				t.Errorf("colour off: %d colour codes written, first %q", len(codes), codes[0])
			}
			continue
		}
		for _, want := range []string{blue + " => [1/4] FROM", red + " => ERROR [4/4]",
			blue + " => CACHED [3/4]"} {
			if !strings.Contains(raw, want) {
				t.Errorf("colour on: no %q in the output", want)
			}
		}
	}
}

// TestCleanLine checks what of a line of output the live view shows.
func TestCleanLine(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "hello", "hello"},
		{"progress bar", "10%\r50%\r100%", "100%"},
		{"crlf", "done\r", "done"},
		{"colours", "\x1b[1;32mok\x1b[0m", "ok"},
		{"cursor moves", "a\x1b[2Ab\x1b[Kc", "abc"},
		{"tab and controls", "a\tb\x07c", "a bc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cleanLine(tc.in); got != tc.want {
				t.Errorf("cleanLine(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestFit checks the layout of one line of the live view.
func TestFit(t *testing.T) {
	tests := []struct {
		left, right string
		width       int
		want        string
	}{
		{"abc", "1.0s", 30, "abc" + strings.Repeat(" ", 22) + "1.0s"},
		{strings.Repeat("x", 40), "1.0s", 30, strings.Repeat("x", 23) + "… 1.0s"},
		{strings.Repeat("y", 40), "", 25, strings.Repeat("y", 23) + "…"},
	}
	for _, tc := range tests {
		got := fit(tc.left, tc.right, tc.width)
		if got != tc.want {
			t.Errorf("fit(%q, %q, %d) = %q, want %q", tc.left, tc.right, tc.width, got, tc.want)
		}
		if n := len([]rune(got)); n >= tc.width {
			t.Errorf("fit gave %d columns for width %d", n, tc.width)
		}
	}
}

// TestProgressFinishOnce checks that events after finish are dropped and
// a second finish does nothing, as happens when an export fails after
// the build.
func TestProgressFinishOnce(t *testing.T) {
	r := newTTYRun(80, 24, false)
	r.step(started(0, 1, "[1/1] RUN true"))
	r.p.finish(nil)
	before := r.raw.Len()
	r.p.event(builder.Event{Kind: builder.StepOutput, Step: 1, Data: []byte("late\n")})
	r.p.finish([]string{"late warning"})
	if r.raw.Len() != before {
		t.Errorf("output after finish: %q", r.raw.String()[before:])
	}
}
