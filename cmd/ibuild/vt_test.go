package main

import (
	"strconv"
	"strings"
)

// vt is the little of a terminal the live view uses: text, \r, \n, cursor
// up (ESC[nA), erase line (ESC[2K), erase below (ESC[J) and colours
// (ESC[…m, recorded and otherwise ignored). Like a real terminal of height
// rows, the cursor cannot go above the lines that scrolled off.
type vt struct {
	rows      int
	lines     [][]rune
	row, col  int
	sgr       int // colour sequences seen
	unhandled []string
}

func newVT(rows int) *vt { return &vt{rows: rows, lines: [][]rune{nil}} }

func (v *vt) Write(p []byte) (int, error) {
	s := []rune(string(p))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\x1b' && i+1 < len(s) && s[i+1] == '[':
			j := i + 2
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == ';' || s[j] == '?') {
				j++
			}
			if j < len(s) {
				v.csi(string(s[i+2:j]), s[j])
			}
			i = j
		case c == '\r':
			v.col = 0
		case c == '\n':
			v.row++
			v.col = 0
			for len(v.lines) <= v.row {
				v.lines = append(v.lines, nil)
			}
		default:
			line := v.lines[v.row]
			for len(line) <= v.col {
				line = append(line, ' ')
			}
			line[v.col] = c
			v.lines[v.row] = line
			v.col++
		}
	}
	return len(p), nil
}

func (v *vt) csi(params string, final rune) {
	n, err := strconv.Atoi(params)
	if err != nil {
		n = 1
	}
	switch final {
	case 'A':
		top := max(len(v.lines)-v.rows, 0)
		v.row = max(v.row-n, top)
	case 'K':
		v.lines[v.row] = nil
	case 'J':
		if v.col < len(v.lines[v.row]) {
			v.lines[v.row] = v.lines[v.row][:v.col]
		}
		v.lines = v.lines[:v.row+1]
	case 'm':
		v.sgr++
	default:
		v.unhandled = append(v.unhandled, params+string(final))
	}
}

// screen is the text of every line, trailing blanks and empty last lines
// removed.
func (v *vt) screen() []string {
	var out []string
	for _, l := range v.lines {
		out = append(out, strings.TrimRight(string(l), " "))
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return out
}
