package action

import (
	"fmt"
	"strings"
	"syscall"
)

// The signals portwarden sends, and their one spelling.
var signalNames = map[syscall.Signal]string{syscall.SIGTERM: "SIGTERM", syscall.SIGKILL: "SIGKILL"}

// SignalName spells a signal as admins read it: "SIGTERM".
func SignalName(sig syscall.Signal) string {
	if name, ok := signalNames[sig]; ok {
		return name
	}
	return fmt.Sprintf("signal %d", int(sig))
}

// ParseSignal reads "TERM", "SIGTERM", "15", "KILL", "SIGKILL" or "9",
// in any case. Only TERM and KILL are offered: the one asks a process to
// stop, the other stops it.
func ParseSignal(s string) (syscall.Signal, error) {
	switch strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG") {
	case "TERM", "15":
		return syscall.SIGTERM, nil
	case "KILL", "9":
		return syscall.SIGKILL, nil
	}
	return 0, fmt.Errorf("signal %q: want TERM or KILL", s)
}
