package builder

import (
	"sync"
	"time"
)

// EventKind says what an Event reports.
type EventKind int

// The kinds of build events.
const (
	// StepStarted: a step began; Name is its display name.
	StepStarted EventKind = iota
	// StepOutput: Data is a chunk of a RUN step's output.
	StepOutput
	// StepDone: the step finished; Cached, Duration and Err are set.
	StepDone
	// StepStatus: Name is a short status line of a step (e.g. a download).
	// ID, when set, names what it is about, so that a later status with the
	// same ID updates it; Current and Total count bytes when known.
	StepStatus
	// Warning: Name is a warning to show the user.
	Warning
)

// Event is one build progress event. Step numbers are unique in a build and
// follow the order steps are announced.
type Event struct {
	Kind     EventKind
	Step     int
	Name     string
	Data     []byte
	Cached   bool
	Duration time.Duration
	Err      error
	Time     time.Time
	// ID, Current and Total belong to a StepStatus: what it is about (a
	// layer digest, a URL) and its progress in bytes (Total 0: unknown).
	ID             string
	Current, Total int64
}

// reporter hands events to the caller's Progress function, one at a time.
type reporter struct {
	mu   sync.Mutex
	next int
	fn   func(Event)
}

func (r *reporter) emit(e Event) {
	if r.fn == nil {
		return
	}
	e.Time = time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fn(e)
}

// step announces a step and returns a handle to report on it.
func (r *reporter) step(name string) *stepReport {
	r.mu.Lock()
	r.next++
	n := r.next
	r.mu.Unlock()
	s := &stepReport{r: r, n: n, start: time.Now()}
	r.emit(Event{Kind: StepStarted, Step: n, Name: name})
	return s
}

// stepReport reports on one step.
type stepReport struct {
	r     *reporter
	n     int
	start time.Time
}

// Write lets a step's output stream into events.
func (s *stepReport) Write(p []byte) (int, error) {
	s.r.emit(Event{Kind: StepOutput, Step: s.n, Data: append([]byte(nil), p...)})
	return len(p), nil
}

func (s *stepReport) status(msg string) {
	s.r.emit(Event{Kind: StepStatus, Step: s.n, Name: msg})
}

// progress reports on a transfer of total bytes (0: unknown), current so
// far; reports with the same id update each other.
func (s *stepReport) progress(id, msg string, current, total int64) {
	s.r.emit(Event{Kind: StepStatus, Step: s.n, Name: msg, ID: id, Current: current,
		Total: total})
}

func (s *stepReport) done(cached bool, err error) {
	s.r.emit(Event{Kind: StepDone, Step: s.n, Cached: cached, Err: err,
		Duration: time.Since(s.start)})
}
