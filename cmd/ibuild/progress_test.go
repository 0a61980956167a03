package main

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ibuild/ibuild/builder"
)

// t0 is when scripted builds start.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// at is t0 plus s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// ev is one scripted event; the script sets its time.
type ev struct {
	sec float64
	e   builder.Event
}

func started(sec float64, n int, name string) ev {
	return ev{sec, builder.Event{Kind: builder.StepStarted, Step: n, Name: name}}
}

func output(sec float64, n int, data string) ev {
	return ev{sec, builder.Event{Kind: builder.StepOutput, Step: n, Data: []byte(data)}}
}

func status(sec float64, n int, id, name string, cur, total int64) ev {
	return ev{sec, builder.Event{Kind: builder.StepStatus, Step: n, ID: id, Name: name,
		Current: cur, Total: total}}
}

func done(sec float64, n int, took float64, cached bool, err error) ev {
	return ev{sec, builder.Event{Kind: builder.StepDone, Step: n, Cached: cached, Err: err,
		Duration: time.Duration(took * float64(time.Second))}}
}

func warning(sec float64, msg string) ev {
	return ev{sec, builder.Event{Kind: builder.Warning, Name: msg}}
}

// scripts are builds as event sequences, shared by the display tests.
var scripts = map[string][]ev{
	"build": {
		started(0, 1, "[1/4] FROM docker.io/library/busybox:latest"),
		status(0.01, 1, "", "resolving docker.io/library/busybox:latest", 0, 0),
		done(0.1, 1, 0.1, false, nil),
		started(0.1, 2, "[2/4] RUN make"),
		output(0.3, 2, "cc -o app main.c\nlinking"),
		output(0.5, 2, " app\n"),
		output(1.2, 2, "done\r\n"),
		done(1.25, 2, 1.15, false, nil),
		started(1.25, 3, "[3/4] COPY . /src"),
		done(1.26, 3, 0.01, true, nil),
		started(1.26, 4, "[4/4] RUN test -f /src/ok"),
		output(1.3, 4, "checking\n"),
		done(1.4, 4, 0.14, false, errors.New("process \"/bin/sh -c test -f /src/ok\" did "+
			"not complete successfully: exit code: 1\nmore")),
		warning(1.4, "Dockerfile:4: JSONArgsRecommended: JSON arguments recommended for CMD"),
	},
	"parallel": {
		started(0, 1, "[a 1/2] RUN sleep 1; echo a"),
		started(0, 2, "[b 1/2] RUN echo b1; sleep 1; echo b2"),
		output(0.1, 2, "b1\n"),
		output(1.0, 1, "a\n"),
		output(1.1, 2, "b2\n"),
		done(1.1, 2, 1.1, false, nil),
		done(1.2, 1, 1.2, false, nil),
	},
	"status": {
		started(0, 1, "pushing localhost:5000/app:1"),
		status(0.0, 1, "push", "pushing layers", 0, 3_000_000),
		status(0.3, 1, "push", "pushing layers", 500_000, 3_000_000),
		status(0.6, 1, "push", "pushing layers", 1_000_000, 3_000_000),
		status(1.1, 1, "push", "pushing layers", 1_500_000, 3_000_000),
		status(1.5, 1, "push", "pushing layers", 3_000_000, 3_000_000),
		status(1.6, 1, "push", "pushing layers", 3_000_000, 3_000_000),
		done(1.7, 1, 1.7, false, nil),
	},
	"interrupted": {
		started(0, 1, "[1/2] RUN printf 'no newline'; sleep 60"),
		output(0.2, 1, "no newline"),
	},
}

// play sends a script to a progress and finishes it.
func play(p *progress, script []ev) {
	for _, s := range script {
		e := s.e
		e.Time = at(s.sec)
		p.event(e)
	}
	p.finish(nil)
}

// TestPlainGolden checks --progress=plain output against golden files.
func TestPlainGolden(t *testing.T) {
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			play(&progress{d: newPlainDisplay(&buf), now: time.Now}, script)
			golden(t, "plain_"+name, buf.String())
		})
	}
}

// TestRawJSONGolden checks --progress=rawjson output against a golden file.
func TestRawJSONGolden(t *testing.T) {
	var buf bytes.Buffer
	play(&progress{d: newJSONDisplay(&buf), now: time.Now}, scripts["build"])
	golden(t, "rawjson_build", buf.String())
}

// TestQuiet checks that --progress=quiet prints nothing at all, not even
// warnings.
func TestQuiet(t *testing.T) {
	var buf bytes.Buffer
	p, err := newProgress(modeQuiet, &buf, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	play(p, scripts["build"])
	if buf.Len() != 0 {
		t.Errorf("quiet progress printed %q", buf.String())
	}
}

// TestProgressModes checks how modes are chosen and refused.
func TestProgressModes(t *testing.T) {
	tests := []struct {
		mode    string
		want    string
		wantErr string
	}{
		{mode: "auto", want: "*main.plainDisplay"},
		{mode: "", want: "*main.plainDisplay"},
		{mode: "plain", want: "*main.plainDisplay"},
		{mode: "rawjson", want: "*main.jsonDisplay"},
		{mode: "quiet", want: "main.quietDisplay"},
		{mode: "tty", want: "*main.ttyDisplay"},
		{mode: "fancy", wantErr: `--progress "fancy": use auto, plain, tty, quiet or rawjson`},
	}
	for _, tc := range tests {
		name := tc.mode
		if name == "" {
			name = "unset"
		}
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			p, err := newProgress(tc.mode, &buf, func(string) string { return "" })
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr || !isUsage(err) {
					t.Fatalf("error %v, want usage error %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.finish(nil)
			if got := typeName(p.d); got != tc.want {
				t.Errorf("display %s, want %s", got, tc.want)
			}
		})
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
