package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// tomlKV is one top-level "key = value" of a config file, where the value
// is a string or an array of strings.
type tomlKV struct {
	key   string
	line  int
	value any // string or []string
}

func (kv tomlKV) str() (string, error) {
	if s, ok := kv.value.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("%s must be a string, such as %s = \"value\"", kv.key, kv.key)
}

func (kv tomlKV) list() ([]string, error) {
	if l, ok := kv.value.([]string); ok {
		return l, nil
	}
	return nil, fmt.Errorf("%s must be an array of strings, such as %s = [\"a\", \"b\"]",
		kv.key, kv.key)
}

// tomlScanner walks TOML text by bytes, counting lines.
type tomlScanner struct {
	s    string
	i    int
	line int
}

// parseTOML parses the subset of TOML the config file uses. Errors start
// with the line number, "12: …".
func parseTOML(text string) ([]tomlKV, error) {
	sc := &tomlScanner{s: text, line: 1}
	var out []tomlKV
	seen := map[string]bool{}
	for {
		sc.skipBlank(true)
		if sc.i >= len(sc.s) {
			return out, nil
		}
		kv, err := sc.keyValue()
		if err != nil {
			return nil, fmt.Errorf("%d: %w", sc.line, err)
		}
		if seen[kv.key] {
			return nil, fmt.Errorf("%d: key %q is set twice", kv.line, kv.key)
		}
		seen[kv.key] = true
		out = append(out, kv)
	}
}

// skipBlank skips spaces, tabs and comments, and newlines when nl is set.
func (sc *tomlScanner) skipBlank(nl bool) {
	for sc.i < len(sc.s) {
		switch c := sc.s[sc.i]; {
		case c == ' ' || c == '\t' || c == '\r':
			sc.i++
		case c == '#':
			for sc.i < len(sc.s) && sc.s[sc.i] != '\n' {
				sc.i++
			}
		case c == '\n' && nl:
			sc.i++
			sc.line++
		default:
			return
		}
	}
}

func (sc *tomlScanner) keyValue() (tomlKV, error) {
	kv := tomlKV{line: sc.line}
	if sc.s[sc.i] == '[' {
		return kv, errors.New("tables are not supported: put the keys at the top level")
	}
	start := sc.i
	for sc.i < len(sc.s) && isBareKeyChar(sc.s[sc.i]) {
		sc.i++
	}
	kv.key = sc.s[start:sc.i]
	if kv.key == "" {
		return kv, fmt.Errorf("expected a key, found %q", sc.rest())
	}
	sc.skipBlank(false)
	if sc.i >= len(sc.s) || sc.s[sc.i] != '=' {
		return kv, fmt.Errorf("expected = after %s", kv.key)
	}
	sc.i++
	sc.skipBlank(false)
	var err error
	if sc.i < len(sc.s) && sc.s[sc.i] == '[' {
		kv.value, err = sc.array()
	} else {
		kv.value, err = sc.str()
	}
	if err != nil {
		return kv, fmt.Errorf("%s: %w", kv.key, err)
	}
	sc.skipBlank(false)
	if sc.i < len(sc.s) && sc.s[sc.i] != '\n' {
		return kv, fmt.Errorf("unexpected %q after the value of %s", sc.rest(), kv.key)
	}
	return kv, nil
}

func isBareKeyChar(c byte) bool {
	return c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' ||
		'A' <= c && c <= 'Z'
}

// rest is the remainder of the current line, for messages.
func (sc *tomlScanner) rest() string {
	r := sc.s[sc.i:]
	if j := strings.IndexByte(r, '\n'); j >= 0 {
		r = r[:j]
	}
	return r
}

// str reads a basic ("…", with escapes) or literal ('…') string.
func (sc *tomlScanner) str() (string, error) {
	if sc.i >= len(sc.s) || (sc.s[sc.i] != '"' && sc.s[sc.i] != '\'') {
		return "", fmt.Errorf("expected a quoted string, found %q", sc.rest())
	}
	q := sc.s[sc.i]
	for j := sc.i + 1; j < len(sc.s) && sc.s[j] != '\n'; j++ {
		switch {
		case q == '"' && sc.s[j] == '\\':
			j++
		case sc.s[j] == q:
			raw := sc.s[sc.i : j+1]
			sc.i = j + 1
			if q == '\'' {
				return raw[1 : len(raw)-1], nil
			}
			v, err := strconv.Unquote(raw)
			if err != nil {
				return "", fmt.Errorf("bad string %s: %w", raw, err)
			}
			return v, nil
		}
	}
	return "", errors.New("unterminated string")
}

// array reads [ "a", "b", ] over one or more lines.
func (sc *tomlScanner) array() ([]string, error) {
	sc.i++ // [
	out := []string{}
	for {
		sc.skipBlank(true)
		if sc.i >= len(sc.s) {
			return nil, errors.New("unterminated array")
		}
		if sc.s[sc.i] == ']' {
			sc.i++
			return out, nil
		}
		v, err := sc.str()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		sc.skipBlank(true)
		if sc.i < len(sc.s) && sc.s[sc.i] == ',' {
			sc.i++
		} else if sc.i < len(sc.s) && sc.s[sc.i] != ']' {
			return nil, fmt.Errorf("expected , or ] in the array, found %q", sc.rest())
		}
	}
}
