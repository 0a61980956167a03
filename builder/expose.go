package builder

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// dispatchExpose adds ports to the config: "80", "80/udp", "8000-8002/tcp".
// Host parts ("8080:80") are accepted and dropped, as Docker does.
func (s *state) dispatchExpose(cmd *instructions.ExposeCommand) error {
	var ports []string
	for _, p := range cmd.Ports {
		words, err := s.b.lex.ProcessWords(p, s.env)
		if err != nil {
			return fmt.Errorf("expanding %q: %w", p, err)
		}
		for _, w := range words {
			ps, err := parsePort(w)
			if err != nil {
				return err
			}
			ports = append(ports, ps...)
		}
	}
	c := &s.cfg.Config
	if c.ExposedPorts == nil {
		c.ExposedPorts = map[string]struct{}{}
	}
	for _, p := range ports {
		c.ExposedPorts[p] = struct{}{}
	}
	s.history(fmt.Sprintf("EXPOSE %v", ports), false)
	return nil
}

// parsePort expands one EXPOSE word into "port/proto" entries.
func parsePort(raw string) ([]string, error) {
	spec := raw
	if i := strings.LastIndex(spec, ":"); i >= 0 {
		spec = spec[i+1:]
	}
	portPart, proto, _ := strings.Cut(spec, "/")
	proto = strings.ToLower(proto)
	if proto == "" {
		proto = "tcp"
	}
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("invalid port %q: unknown protocol %q", raw, proto)
	}
	lo, hi, err := portRange(portPart)
	if err != nil {
		return nil, fmt.Errorf("invalid port %q: %w", raw, err)
	}
	out := make([]string, 0, hi-lo+1)
	for p := lo; p <= hi; p++ {
		out = append(out, strconv.Itoa(p)+"/"+proto)
	}
	return out, nil
}

func portRange(s string) (int, int, error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err := portNumber(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	hi, err := portNumber(b)
	if err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %s ends before it starts", s)
	}
	return lo, hi, nil
}

func portNumber(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port number (0-65535)", s)
	}
	return n, nil
}
