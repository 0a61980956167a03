package main

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/ibuild/ibuild/builder"
)

// statusEvery is how often the plain display repeats a status whose byte
// count grows.
const statusEvery = time.Second

// plainDisplay prints lines as BuildKit's --progress=plain does:
//
//	#3 [2/3] RUN make
//	#3 0.215 cc -o app main.c
//	#3 DONE 1.2s
//
// Each step's lines are a block after a blank line; when steps run at the
// same time and their lines interleave, the step's title is repeated
// before its next lines.
type plainDisplay struct {
	w       io.Writer
	steps   map[int]*plainStep
	current int  // the step whose line was printed last
	any     bool // whether anything was printed
}

type plainStep struct {
	name    string
	start   time.Time
	partial []byte
	last    time.Time            // time of the last output
	shown   map[string]time.Time // when each status ID was printed last
	sizes   map[string]string    // the sizes each status ID was printed with
}

func newPlainDisplay(w io.Writer) *plainDisplay {
	return &plainDisplay{w: w, steps: map[int]*plainStep{}}
}

func (d *plainDisplay) event(e builder.Event) {
	if e.Kind == builder.Warning {
		return // shown by finish
	}
	s := d.steps[e.Step]
	if s == nil {
		s = &plainStep{name: e.Name, start: e.Time, shown: map[string]time.Time{},
			sizes: map[string]string{}}
		d.steps[e.Step] = s
	}
	switch e.Kind {
	case builder.StepStarted:
		s.name, s.start = e.Name, e.Time
		d.switchTo(e.Step, s)
	case builder.StepOutput:
		d.output(e.Step, s, e.Data, e.Time)
	case builder.StepStatus:
		d.status(e.Step, s, e)
	case builder.StepDone:
		d.flush(e.Step, s, e.Time)
		d.switchTo(e.Step, s)
		switch {
		case e.Err != nil:
			fmt.Fprintf(d.w, "#%d ERROR: %s\n", e.Step, firstLine(e.Err.Error()))
		case e.Cached:
			fmt.Fprintf(d.w, "#%d CACHED\n", e.Step)
		default:
			fmt.Fprintf(d.w, "#%d DONE %.1fs\n", e.Step, e.Duration.Seconds())
		}
	}
}

// switchTo starts the block of step n unless its lines came last.
func (d *plainDisplay) switchTo(n int, s *plainStep) {
	if d.current == n {
		return
	}
	if d.any {
		fmt.Fprintln(d.w)
	}
	fmt.Fprintf(d.w, "#%d %s\n", n, s.name)
	d.current, d.any = n, true
}

// output prints the complete lines of a chunk of output, each with the
// time since its step started.
func (d *plainDisplay) output(n int, s *plainStep, data []byte, t time.Time) {
	buf := append(s.partial, data...)
	s.last = t
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		d.switchTo(n, s)
		line := strings.TrimSuffix(string(buf[:i]), "\r")
		fmt.Fprintf(d.w, "#%d %.3f %s\n", n, t.Sub(s.start).Seconds(), line)
		buf = buf[i+1:]
	}
	s.partial = append([]byte(nil), buf...)
}

// flush prints the last output line of a step that did not end in a
// newline.
func (d *plainDisplay) flush(n int, s *plainStep, t time.Time) {
	if len(s.partial) > 0 {
		d.output(n, s, []byte("\n"), t)
	}
}

// status prints a status line; one that counts bytes is printed when it
// starts, at most every statusEvery while it grows, and when it is done.
func (d *plainDisplay) status(n int, s *plainStep, e builder.Event) {
	line := e.Name
	if e.Total > 0 || e.Current > 0 {
		complete := e.Total > 0 && e.Current >= e.Total
		sizes := sizeText(e.Current, e.Total)
		last, seen := s.shown[e.ID]
		if e.ID != "" && seen && (s.sizes[e.ID] == sizes ||
			!complete && e.Time.Sub(last) < statusEvery) {
			return
		}
		s.shown[e.ID], s.sizes[e.ID] = e.Time, sizes
		line += fmt.Sprintf(" %s %.1fs", sizes, e.Time.Sub(s.start).Seconds())
		if complete {
			line += " done"
		}
	}
	d.switchTo(n, s)
	fmt.Fprintf(d.w, "#%d %s\n", n, line)
}

func (d *plainDisplay) finish(warnings []string) {
	nums := make([]int, 0, len(d.steps))
	for n := range d.steps {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for _, n := range nums {
		d.flush(n, d.steps[n], d.steps[n].last)
	}
	writeWarnings(d.w, warnings, palette{})
}
