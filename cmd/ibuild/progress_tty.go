package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ibuild/ibuild/builder"
)

const (
	// frameEvery is how often the live view is redrawn.
	frameEvery = 100 * time.Millisecond
	// tailLines is how many output lines of a running step are shown.
	tailLines = 6
	// statusLines is how many status lines of a running step are shown.
	statusLines = 3
)

// spinner are the frames of the spinner beside a running step's timer.
const spinner = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

// ttyDisplay is the live view on a terminal: a header, one line per step
// (finished steps stay collapsed to that line), and under each running
// step its status and the last lines of its output, redrawn in place
// frameEvery with ANSI cursor movement.
type ttyDisplay struct {
	w     io.Writer
	pal   palette
	mu    *sync.Mutex // progress.mu, held by event and finish
	now   func() time.Time
	size  func() (int, int)
	start time.Time

	steps     []*ttyStep
	byNum     map[int]*ttyStep
	onScreen  int // lines of the live frame on the screen
	committed int // leading steps printed for good above the frame
	frame     int
	stop      chan struct{}
	finished  bool
}

type ttyStep struct {
	num          int
	name         string
	start, end   time.Time
	done, cached bool
	err          error
	statuses     []*ttyStatus
	tail         []string
	partial      []byte
}

type ttyStatus struct {
	id, name       string
	current, total int64
}

// newTTYDisplay returns the live view on w; mu guards its state and is
// taken by the redraw loop, which the caller starts.
func newTTYDisplay(w io.Writer, pal palette, mu *sync.Mutex, now func() time.Time) *ttyDisplay {
	return &ttyDisplay{w: w, pal: pal, mu: mu, now: now, start: now(),
		size:  func() (int, int) { return termSize(w) },
		byNum: map[int]*ttyStep{}, stop: make(chan struct{})}
}

// loop redraws the view every frameEvery until finish.
func (d *ttyDisplay) loop() {
	t := time.NewTicker(frameEvery)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.mu.Lock()
			if !d.finished {
				d.draw(false)
			}
			d.mu.Unlock()
		}
	}
}

func (d *ttyDisplay) event(e builder.Event) {
	if e.Kind == builder.Warning {
		return
	}
	s := d.byNum[e.Step]
	if s == nil {
		s = &ttyStep{num: e.Step, name: e.Name, start: e.Time}
		d.byNum[e.Step] = s
		d.steps = append(d.steps, s)
	}
	switch e.Kind {
	case builder.StepStarted:
		s.name, s.start = e.Name, e.Time
	case builder.StepOutput:
		s.addOutput(e.Data)
	case builder.StepStatus:
		s.setStatus(e)
	case builder.StepDone:
		s.done, s.cached, s.err, s.end = true, e.Cached, e.Err, e.Time
		if e.Duration > 0 {
			s.end = s.start.Add(e.Duration)
		}
	}
}

func (s *ttyStep) addOutput(data []byte) {
	buf := append(s.partial, data...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		s.tail = append(s.tail, cleanLine(string(buf[:i])))
		buf = buf[i+1:]
	}
	if len(s.tail) > tailLines {
		s.tail = append([]string(nil), s.tail[len(s.tail)-tailLines:]...)
	}
	s.partial = append([]byte(nil), buf...)
}

func (s *ttyStep) setStatus(e builder.Event) {
	for _, st := range s.statuses {
		if e.ID != "" && st.id == e.ID {
			st.name, st.current, st.total = e.Name, e.Current, e.Total
			return
		}
	}
	s.statuses = append(s.statuses, &ttyStatus{id: e.ID, name: cleanLine(e.Name),
		current: e.Current, total: e.Total})
}

// ansiCSI matches the escape sequences a program may print, which would
// move the cursor of the live view.
var ansiCSI = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[^\[]`)

// cleanLine is what is left of a line of output on a terminal: the text
// after its last carriage return, without escape sequences and control
// characters.
func cleanLine(s string) string {
	s = strings.TrimRight(s, "\r")
	if i := strings.LastIndexByte(s, '\r'); i >= 0 {
		s = s[i+1:]
	}
	s = ansiCSI.ReplaceAllString(s, "")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
}

func (d *ttyDisplay) finish(warnings []string) {
	d.finished = true
	close(d.stop)
	// The loop waits for mu, which the caller holds: do not wait for it.
	d.draw(true)
	writeWarnings(d.w, warnings, d.pal)
}

// draw redraws the live frame. Leading finished steps that no longer fit
// on the screen are printed for good above it; the final frame is printed
// whole and stays.
func (d *ttyDisplay) draw(final bool) {
	width, height := d.size()
	now := d.now()
	d.frame++
	var commit []string
	blocks := d.blocks(now, final, width)
	for !final && d.committed < len(d.steps) && d.steps[d.committed].done &&
		1+countLines(blocks) > height-1 {
		commit = append(commit, blocks[0]...)
		blocks = blocks[1:]
		d.committed++
	}
	frame := []string{d.header(now, final)}
	for _, b := range blocks {
		frame = append(frame, b...)
	}
	if !final && len(frame) > height-1 && height > 2 {
		frame = frame[:height-1]
	}
	var buf bytes.Buffer
	if d.onScreen > 0 {
		fmt.Fprintf(&buf, "\x1b[%dA", d.onScreen)
	}
	buf.WriteString("\r")
	for _, l := range append(commit, frame...) {
		buf.WriteString("\x1b[2K" + l + "\n")
	}
	buf.WriteString("\x1b[J")
	d.w.Write(buf.Bytes())
	d.onScreen = len(frame)
	if final {
		d.onScreen = 0
	}
}

func countLines(blocks [][]string) int {
	n := 0
	for _, b := range blocks {
		n += len(b)
	}
	return n
}
