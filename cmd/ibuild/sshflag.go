package main

import (
	"fmt"
	"os"
	"strings"
)

// parseSSH reads --ssh values as docker build does: "ID=SOCKET", or a bare
// ID (usually "default") for the agent $SSH_AUTH_SOCK names. Only agent
// sockets are supported, not key files.
func parseSSH(in []string) (map[string]string, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, s := range in {
		id, sock, ok := strings.Cut(s, "=")
		if !ok {
			sock = os.Getenv("SSH_AUTH_SOCK")
			if sock == "" {
				return nil, usageError{fmt.Errorf("--ssh %s: SSH_AUTH_SOCK is not set", s)}
			}
		}
		if id == "" || sock == "" || strings.Contains(sock, ",") {
			return nil, usageError{fmt.Errorf("--ssh %q: want ID or ID=SOCKET", s)}
		}
		out[id] = sock
	}
	return out, nil
}
