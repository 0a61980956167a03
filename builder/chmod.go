package builder

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Permission bits as in a tar header's mode.
const (
	modeSetuid = 0o4000
	modeSetgid = 0o2000
	modeSticky = 0o1000
	modeRWX    = 0o777
	modeAll    = 0o7777
)

// chmodSpec is a parsed COPY/ADD --chmod value: an octal mode, or a list
// of symbolic clauses as chmod(1) takes them ("u+x", "go-w", "a=rX").
// BuildKit applies it to every entry it copies, directories included, but
// not to symlinks; the directories it has to create get the bits of an
// octal mode only (see copier.newDirMode).
type chmodSpec struct {
	octal   bool
	mode    int64
	clauses []chmodClause
}

// chmodClause is one "who op perms" part of a symbolic mode.
type chmodClause struct {
	who int64 // bits the clause may touch
	op  byte  // '+', '-' or '='
	// perm holds the bits to set or clear; copy, when not 0, names the
	// class ('u', 'g' or 'o') whose current bits are used instead.
	perm int64
	copy byte
	// permX is the execute bits "X" adds: only to directories and to
	// files that already had an execute bit.
	permX int64
}

// parseChmod parses a --chmod value as BuildKit accepts it: octal up to
// 07777, or symbolic (the umask is taken as 0, as BuildKit does).
func parseChmod(s string) (*chmodSpec, error) {
	if s == "" {
		return nil, nil
	}
	badOctal := fmt.Errorf(
		"invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
	if s[0] >= '0' && s[0] <= '9' {
		v, err := strconv.ParseUint(s, 8, 32)
		if err != nil || v > modeAll {
			return nil, badOctal
		}
		return &chmodSpec{octal: true, mode: int64(v)}, nil
	}
	var spec chmodSpec
	for _, part := range strings.Split(s, ",") {
		clauses, err := parseClause(part)
		if err != nil {
			return nil, fmt.Errorf("invalid chmod parameter %q: %w", s, err)
		}
		spec.clauses = append(spec.clauses, clauses...)
	}
	return &spec, nil
}

var errChmodSyntax = errors.New("invalid syntax")

// parseClause parses "[ugoa]*([-+=]([rwxXst]*|[ugo]))+".
func parseClause(s string) ([]chmodClause, error) {
	who, s := parseWho(s)
	onlyOther := who == 0o007
	if who == 0 {
		who = modeSetuid | modeSetgid | modeRWX
	}
	var out []chmodClause
	for s != "" {
		c := chmodClause{who: who, op: s[0]}
		if c.op != '+' && c.op != '-' && c.op != '=' {
			return nil, errChmodSyntax
		}
		s = s[1:]
		if s != "" && strings.IndexByte("ugo", s[0]) >= 0 {
			c.copy, s = s[0], s[1:]
			out = append(out, c)
			continue
		}
		for ; s != "" && strings.IndexByte("+-=", s[0]) < 0; s = s[1:] {
			if !c.addPerm(s[0], onlyOther) {
				return nil, errChmodSyntax
			}
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errChmodSyntax
	}
	return out, nil
}

// parseWho reads the leading "ugoa" letters: the bits a clause may touch.
func parseWho(s string) (int64, string) {
	var who int64
	for ; s != ""; s = s[1:] {
		switch s[0] {
		case 'u':
			who |= modeSetuid | 0o700
		case 'g':
			who |= modeSetgid | 0o070
		case 'o':
			who |= 0o007
		case 'a':
			who |= modeSetuid | modeSetgid | modeRWX
		default:
			return who, s
		}
	}
	return who, s
}

// addPerm adds one permission letter to the clause. Set-id and sticky bits
// are ignored for "o" alone, as chmod(1) does.
func (c *chmodClause) addPerm(p byte, onlyOther bool) bool {
	switch p {
	case 'r':
		c.perm |= 0o444
	case 'w':
		c.perm |= 0o222
	case 'x':
		c.perm |= 0o111
	case 'X':
		if c.op == '+' {
			c.permX = 0o111
		}
	case 's':
		if !onlyOther {
			c.perm |= modeSetuid | modeSetgid
		}
	case 't':
		if !onlyOther {
			c.perm |= modeSticky
			c.who |= modeSticky
		}
	default:
		return false
	}
	return true
}

// apply returns the new permission bits (07777) of an entry that had mode.
func (c *chmodSpec) apply(mode int64, isDir bool) int64 {
	if c == nil {
		return mode
	}
	if c.octal {
		return c.mode
	}
	orig := mode & modeAll
	m := orig
	for _, cl := range c.clauses {
		perm := cl.perm
		if cl.copy != 0 {
			perm = copyClass(m, cl.copy)
		}
		switch cl.op {
		case '+':
			m |= cl.who & perm
		case '-':
			m &^= cl.who & perm
		case '=':
			clear := cl.who
			if cl.copy != 0 {
				clear &= modeRWX
			}
			m = m&^clear | cl.who&perm
		}
		if cl.permX != 0 && (isDir || orig&0o111 != 0) {
			m |= cl.who & cl.permX
		}
	}
	return m
}

// copyClass spreads the rwx bits of one class of m over all three classes.
func copyClass(m int64, class byte) int64 {
	var v int64
	switch class {
	case 'u':
		v = m >> 6 & 7
	case 'g':
		v = m >> 3 & 7
	case 'o':
		v = m & 7
	}
	return v<<6 | v<<3 | v
}
