package main

import (
	"fmt"
	"strings"
	"time"
)

// header is the first line of the live view, as BuildKit's:
// "[+] Building 3.2s (5/9)", with FINISHED on the final frame.
func (d *ttyDisplay) header(now time.Time, final bool) string {
	done := 0
	for _, s := range d.steps {
		if s.done {
			done++
		}
	}
	h := fmt.Sprintf("[+] Building %.1fs (%d/%d)", now.Sub(d.start).Seconds(), done, len(d.steps))
	if final {
		h += " FINISHED"
	}
	return h
}

// blocks are the lines of each step not yet printed for good: the step's
// line, and for a running step its status and output lines.
func (d *ttyDisplay) blocks(now time.Time, final bool, width int) [][]string {
	out := make([][]string, 0, len(d.steps)-d.committed)
	for _, s := range d.steps[d.committed:] {
		b := []string{d.stepLine(s, now, final, width)}
		if !s.done && !final {
			b = append(b, d.detailLines(s, width)...)
		}
		out = append(out, b)
	}
	return out
}

// stepLine is " => [2/3] RUN make      1.2s": a finished step in blue (red
// for an error), a running one with a spinner before its timer.
func (d *ttyDisplay) stepLine(s *ttyStep, now time.Time, final bool, width int) string {
	label, colour := "", blue
	var elapsed time.Duration
	switch {
	case s.err != nil:
		label, colour = "ERROR ", red
	case s.cached:
		label = "CACHED "
	case !s.done && final:
		label, colour = "CANCELED ", yellow
	case !s.done:
		colour = ""
	}
	if s.done {
		elapsed = s.end.Sub(s.start)
	} else {
		elapsed = now.Sub(s.start)
	}
	right := fmt.Sprintf("%.1fs", elapsed.Seconds())
	if !s.done && !final {
		r := []rune(spinner)
		right = string(r[d.frame%len(r)]) + " " + right
	}
	line := fit(" => "+label+cleanLine(s.name), right, width)
	if colour == "" {
		return line
	}
	return d.pal.paint(colour, line)
}

// detailLines are the last status lines and output lines of a running
// step, " => => resolving …" and " => => # output", in faint type.
func (d *ttyDisplay) detailLines(s *ttyStep, width int) []string {
	var out []string
	sts := s.statuses
	if len(sts) > statusLines {
		sts = sts[len(sts)-statusLines:]
	}
	for _, st := range sts {
		right := ""
		if st.total > 0 || st.current > 0 {
			right = sizeText(st.current, st.total)
		}
		out = append(out, fit(" => => "+st.name, right, width))
	}
	for _, l := range s.tail {
		out = append(out, d.pal.paint(faint, fit(" => => # "+l, "", width)))
	}
	return out
}

// fit lays out left and right on one line of width columns: left is cut
// with "…" when too long and right is aligned to the right margin. The
// last column stays free so the terminal never wraps.
func fit(left, right string, width int) string {
	cols := max(width-1, 20)
	room := cols
	if right != "" {
		room = cols - len([]rune(right)) - 1
	}
	l := []rune(left)
	if len(l) > room {
		l = append(l[:max(room-1, 0)], '…')
	}
	if right == "" {
		return string(l)
	}
	return string(l) + strings.Repeat(" ", max(room-len(l), 0)+1) + right
}
