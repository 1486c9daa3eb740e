package probes

import (
	"net/netip"
	"os"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

// ErrClosed is returned by Read once the Reader is closed.
var ErrClosed = os.ErrClosed

// TCP flags a probe carries.
const (
	FlagFIN = 0x01
	FlagSYN = 0x02
	FlagRST = 0x04
	FlagACK = 0x10
)

// Probe is one packet that reached a port nothing listened on, in the
// namespace it arrived in.
type Probe struct {
	Time     time.Time
	NetNS    uint64
	Proto    sockets.Proto
	TCPFlags uint8 // TCP only
	Local    netip.AddrPort
	Remote   netip.AddrPort
}

// Latency bounds how long a probe can wait in the ring buffer when little
// comes (much wakes the reader at once): the recorder commits every
// second, and a reader that looks less often costs less when idle.
const Latency = 500 * time.Millisecond
