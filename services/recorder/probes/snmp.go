package probes

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Counters are the kernel's counts of packets to closed ports in one
// network namespace (/proc/net/snmp), without their sources: what is
// known of probes where the program cannot be loaded.
type Counters struct {
	// UDPNoPorts counts UDP datagrams that reached a port nothing
	// listened on (Udp NoPorts, Udp6 too where read).
	UDPNoPorts uint64
	// TCPResets counts the resets TCP sent: to SYNs at closed ports, and
	// also to connections it ended (Tcp OutRsts): an upper bound.
	TCPResets uint64
}

// ReadCounters reads path (/proc/net/snmp, or a process's
// /proc/PID/net/snmp for its namespace).
func ReadCounters(path string) (Counters, error) {
	f, err := os.Open(path)
	if err != nil {
		return Counters{}, fmt.Errorf("probe counters: %w", err)
	}
	defer f.Close()
	var c Counters
	found := 0
	var header []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		if header == nil || header[0] != fields[0] {
			header = fields // "Tcp: RtoAlgorithm …": the values follow on the next line
			continue
		}
		for i := 1; i < len(fields) && i < len(header); i++ {
			var dst *uint64
			switch {
			case fields[0] == "Udp:" && header[i] == "NoPorts":
				dst = &c.UDPNoPorts
			case fields[0] == "Tcp:" && header[i] == "OutRsts":
				dst = &c.TCPResets
			default:
				continue
			}
			n, err := strconv.ParseUint(fields[i], 10, 64)
			if err != nil {
				return Counters{}, fmt.Errorf("probe counters: %s %s: %w", fields[0], header[i], err)
			}
			*dst = n
			found++
		}
		header = nil
	}
	if err := sc.Err(); err != nil {
		return Counters{}, fmt.Errorf("probe counters: %w", err)
	}
	if found != 2 {
		return Counters{}, fmt.Errorf("probe counters: %s lacks Udp NoPorts or Tcp OutRsts", path)
	}
	return c, nil
}

// Since is what was counted from then to c, a counter that went back (a
// namespace made anew) counting from zero.
func (c Counters) Since(then Counters) Counters {
	d := func(now, was uint64) uint64 {
		if now < was {
			return now
		}
		return now - was
	}
	return Counters{UDPNoPorts: d(c.UDPNoPorts, then.UDPNoPorts), TCPResets: d(c.TCPResets, then.TCPResets)}
}
