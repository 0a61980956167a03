package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/ibuild/ibuild/builder"
)

// progress prints build events: plain numbered lines like BuildKit's
// --progress=plain, nothing for quiet, or one JSON object per event.
type progress struct {
	mu      sync.Mutex
	mode    string
	out     io.Writer
	partial map[int][]byte
	warns   []string
	start   time.Time
}

func newProgress(mode string, out io.Writer) *progress {
	if mode == "auto" || mode == "tty" {
		mode = "plain"
		if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			// TODO: a live view that collapses finished steps; plain lines until then.
			mode = "plain"
		}
	}
	return &progress{mode: mode, out: out, partial: map[int][]byte{}, start: time.Now()}
}

func (p *progress) event(e builder.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch p.mode {
	case "quiet":
		if e.Kind == builder.Warning {
			p.warns = append(p.warns, e.Name)
		}
		return
	case "rawjson":
		p.rawJSON(e)
		return
	}
	switch e.Kind {
	case builder.StepStarted:
		fmt.Fprintf(p.out, "#%d %s\n", e.Step, e.Name)
	case builder.StepStatus:
		fmt.Fprintf(p.out, "#%d %s\n", e.Step, e.Name)
	case builder.StepOutput:
		p.output(e)
	case builder.StepDone:
		p.flush(e.Step, e.Time)
		switch {
		case e.Err != nil:
			fmt.Fprintf(p.out, "#%d ERROR: %s\n", e.Step, firstLine(e.Err.Error()))
		case e.Cached:
			fmt.Fprintf(p.out, "#%d CACHED\n", e.Step)
		default:
			fmt.Fprintf(p.out, "#%d DONE %.1fs\n", e.Step, e.Duration.Seconds())
		}
		fmt.Fprintln(p.out)
	case builder.Warning:
		p.warns = append(p.warns, e.Name)
	}
}

// output prints complete lines of a step's output with the step number and
// the time since the build started.
func (p *progress) output(e builder.Event) {
	buf := append(p.partial[e.Step], e.Data...)
	for {
		i := strings.IndexByte(string(buf), '\n')
		if i < 0 {
			break
		}
		fmt.Fprintf(p.out, "#%d %.3f %s\n", e.Step, e.Time.Sub(p.start).Seconds(), buf[:i])
		buf = buf[i+1:]
	}
	p.partial[e.Step] = buf
}

func (p *progress) flush(step int, t time.Time) {
	if b := p.partial[step]; len(b) > 0 {
		fmt.Fprintf(p.out, "#%d %.3f %s\n", step, t.Sub(p.start).Seconds(), b)
	}
	delete(p.partial, step)
}

func (p *progress) rawJSON(e builder.Event) {
	m := map[string]any{"step": e.Step, "time": e.Time}
	switch e.Kind {
	case builder.StepStarted:
		m["started"], m["name"] = true, e.Name
	case builder.StepStatus:
		m["status"] = e.Name
	case builder.StepOutput:
		m["log"] = string(e.Data)
	case builder.StepDone:
		m["completed"], m["cached"], m["duration"] = true, e.Cached, e.Duration.Seconds()
		if e.Err != nil {
			m["error"] = e.Err.Error()
		}
	case builder.Warning:
		m["warning"] = e.Name
	}
	b, _ := json.Marshal(m)
	fmt.Fprintf(p.out, "%s\n", b)
}

func (p *progress) warn(msg string) {
	p.event(builder.Event{Kind: builder.Warning, Name: msg})
}

// finish prints the warnings once, at the end, as BuildKit does.
func (p *progress) finish(warnings []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	all := append(p.warns, warnings...)
	if len(all) == 0 || p.mode == "rawjson" {
		return
	}
	fmt.Fprintf(p.out, "%d warning(s):\n", len(all))
	for _, w := range all {
		fmt.Fprintf(p.out, " - %s\n", w)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
