package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/ibuild/ibuild/builder"
)

// The objects of --progress=rawjson have the shape of BuildKit's
// SolveStatus (one per line), so that tools reading `buildctl
// --progress=rawjson` read ibuild's too. A step is a vertex whose digest
// is its number, "sha256:000…0007".
type (
	jsonStatusLine struct {
		Vertexes []jsonVertex  `json:"vertexes,omitempty"`
		Statuses []jsonStatus  `json:"statuses,omitempty"`
		Logs     []jsonLog     `json:"logs,omitempty"`
		Warnings []jsonWarning `json:"warnings,omitempty"`
	}
	jsonVertex struct {
		Digest    string     `json:"digest"`
		Name      string     `json:"name,omitempty"`
		Started   *time.Time `json:"started,omitempty"`
		Completed *time.Time `json:"completed,omitempty"`
		Cached    bool       `json:"cached,omitempty"`
		Error     string     `json:"error,omitempty"`
	}
	jsonStatus struct {
		ID        string     `json:"id"`
		Vertex    string     `json:"vertex,omitempty"`
		Name      string     `json:"name,omitempty"`
		Total     int64      `json:"total,omitempty"`
		Current   int64      `json:"current"`
		Timestamp time.Time  `json:"timestamp"`
		Completed *time.Time `json:"completed,omitempty"`
	}
	jsonLog struct {
		Vertex    string    `json:"vertex"`
		Stream    int       `json:"stream"`
		Data      []byte    `json:"data"`
		Timestamp time.Time `json:"timestamp"`
	}
	jsonWarning struct {
		Level int    `json:"level"`
		Short []byte `json:"short"`
	}
)

// jsonDisplay writes one JSON object per event.
type jsonDisplay struct {
	enc   *json.Encoder
	steps map[int]*jsonVertex
	sent  map[string]bool // warnings written
}

func newJSONDisplay(w io.Writer) *jsonDisplay {
	return &jsonDisplay{enc: json.NewEncoder(w), steps: map[int]*jsonVertex{},
		sent: map[string]bool{}}
}

func stepDigest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func (d *jsonDisplay) event(e builder.Event) {
	t := e.Time
	v := d.steps[e.Step]
	if v == nil && e.Kind != builder.Warning {
		v = &jsonVertex{Digest: stepDigest(e.Step), Name: e.Name, Started: &t}
		d.steps[e.Step] = v
	}
	var line jsonStatusLine
	switch e.Kind {
	case builder.StepStarted:
		v.Name, v.Started = e.Name, &t
		line.Vertexes = []jsonVertex{*v}
	case builder.StepOutput:
		line.Logs = []jsonLog{{Vertex: v.Digest, Stream: 1, Data: e.Data, Timestamp: t}}
	case builder.StepStatus:
		st := jsonStatus{ID: e.ID, Vertex: v.Digest, Name: e.Name, Total: e.Total,
			Current: e.Current, Timestamp: t}
		if st.ID == "" {
			st.ID = e.Name
		}
		if e.Total > 0 && e.Current >= e.Total {
			st.Completed = &t
		}
		line.Statuses = []jsonStatus{st}
	case builder.StepDone:
		v.Completed, v.Cached = &t, e.Cached
		if e.Err != nil {
			v.Error = e.Err.Error()
		}
		line.Vertexes = []jsonVertex{*v}
	case builder.Warning:
		d.sent[e.Name] = true
		line.Warnings = []jsonWarning{{Level: 1, Short: []byte(e.Name)}}
	}
	_ = d.enc.Encode(line)
}

// finish writes the warnings that did not come as events.
func (d *jsonDisplay) finish(warnings []string) {
	for _, w := range warnings {
		if !d.sent[w] {
			d.sent[w] = true
			_ = d.enc.Encode(jsonStatusLine{Warnings: []jsonWarning{{Level: 1, Short: []byte(w)}}})
		}
	}
}
