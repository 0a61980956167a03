package builder

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// checkSignal accepts what Docker's STOPSIGNAL accepts: a number, or a
// signal name with or without the SIG prefix (RTMIN+n included).
func checkSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return fmt.Errorf("invalid signal: %s", s)
		}
		return nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if strings.HasPrefix(name, "SIGRTMIN") || strings.HasPrefix(name, "SIGRTMAX") {
		return nil
	}
	if unix.SignalNum(name) == 0 {
		return fmt.Errorf("invalid signal: %s", s)
	}
	return nil
}
