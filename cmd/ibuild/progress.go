package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/ibuild/ibuild/builder"
)

// The --progress modes.
const (
	modeAuto    = "auto"
	modePlain   = "plain"
	modeTTY     = "tty"
	modeQuiet   = "quiet"
	modeRawJSON = "rawjson"
)

// display shows progress events. Its methods are called one at a time,
// with progress.mu held.
type display interface {
	event(e builder.Event)
	// finish shows the end of the build and the warnings.
	finish(warnings []string)
}

// progress receives the events of a build, and of the steps the command
// reports itself (exporting, pushing), and hands them to a display.
type progress struct {
	mu    sync.Mutex
	d     display
	warns []string
	last  int // the highest step number seen
	now   func() time.Time
	done  bool
}

// newProgress returns the display for mode on out: auto is tty on a
// terminal (unless TERM=dumb) and plain otherwise.
func newProgress(mode string, out io.Writer, getenv func(string) string) (*progress, error) {
	if mode == "" || mode == modeAuto {
		mode = modePlain
		if _, tty := terminalFd(out); tty && getenv("TERM") != "dumb" {
			mode = modeTTY
		}
	}
	p := &progress{now: time.Now}
	switch mode {
	case modePlain:
		p.d = newPlainDisplay(out)
	case modeTTY:
		d := newTTYDisplay(out, colourFor(out, getenv), &p.mu, time.Now)
		go d.loop()
		p.d = d
	case modeRawJSON:
		p.d = newJSONDisplay(out)
	case modeQuiet:
		p.d = quietDisplay{}
	default:
		return nil, usageError{fmt.Errorf("--progress %q: use auto, plain, tty, quiet or rawjson",
			mode)}
	}
	return p, nil
}

// event takes one build event; it is the builder's Options.Progress.
func (p *progress) event(e builder.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	if e.Time.IsZero() {
		e.Time = p.now()
	}
	p.last = max(p.last, e.Step)
	if e.Kind == builder.Warning {
		p.warns = append(p.warns, e.Name)
	}
	p.d.event(e)
}

func (p *progress) warn(msg string) {
	p.event(builder.Event{Kind: builder.Warning, Name: msg})
}

// finish ends the display and shows the warnings once, at the end, as
// BuildKit does; later events are dropped.
func (p *progress) finish(warnings []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	var all []string
	seen := map[string]bool{}
	for _, w := range append(p.warns, warnings...) {
		if !seen[w] {
			seen[w] = true
			all = append(all, w)
		}
	}
	p.d.finish(all)
}

// cliStep is a step the command reports itself, numbered after the
// build's steps.
type cliStep struct {
	p     *progress
	n     int
	start time.Time
}

// step announces a step of the command.
func (p *progress) step(name string) *cliStep {
	p.mu.Lock()
	p.last++
	s := &cliStep{p: p, n: p.last, start: p.now()}
	p.mu.Unlock()
	p.event(builder.Event{Kind: builder.StepStarted, Step: s.n, Name: name, Time: s.start})
	return s
}

// status reports what the step does now; a later status with the same
// non-empty id replaces it. total 0 means the size is unknown.
func (s *cliStep) status(id, name string, current, total int64) {
	s.p.event(builder.Event{Kind: builder.StepStatus, Step: s.n, ID: id, Name: name,
		Current: current, Total: total})
}

// done ends the step.
func (s *cliStep) done(err error) {
	s.p.event(builder.Event{Kind: builder.StepDone, Step: s.n, Err: err,
		Duration: s.p.now().Sub(s.start)})
}

// quietDisplay shows nothing: --progress=quiet prints only the image ID.
type quietDisplay struct{}

func (quietDisplay) event(builder.Event) {}
func (quietDisplay) finish([]string)     {}

// writeWarnings prints the warnings after the build, as BuildKit does.
func writeWarnings(w io.Writer, warnings []string, p palette) {
	if len(warnings) == 0 {
		return
	}
	noun := "warnings"
	if len(warnings) == 1 {
		noun = "warning"
	}
	fmt.Fprintf(w, "\n%s\n", p.paint(yellow, fmt.Sprintf("%d %s found:", len(warnings), noun)))
	for _, m := range warnings {
		fmt.Fprintf(w, " - %s\n", m)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// sizeText is "1.2MB / 3.4MB", or "1.2MB" when the total is unknown.
func sizeText(current, total int64) string {
	if total <= 0 {
		return humanSize(current)
	}
	return humanSize(current) + " / " + humanSize(total)
}
