package udpflows

import (
	"net/netip"
	"os"
	"time"
)

// ErrClosed is returned by Read once the Reader is closed.
var ErrClosed = os.ErrClosed

// Kind says what a Flow event reports.
type Kind uint8

// The kinds of event.
const (
	Connect Kind = 1 // connect() on a UDP socket: its one peer from now on
	Send    Kind = 2 // a datagram sent to a peer
	Receive Kind = 3 // a datagram received from a peer
	Release Kind = 4 // the socket closed: its flows end
)

// Flow is a UDP socket's exchange with a peer, as first seen (again after
// ten seconds of activity, or when its local port became known), or a
// socket's release.
type Flow struct {
	Kind   Kind
	Time   time.Time
	Cookie uint64 // the socket, as sock_diag's idiag_cookie names it
	// NetNS is the network namespace's inode: the calling thread's, the
	// namespace its sockets are made in.
	NetNS uint64
	Local netip.AddrPort // port 0 before the socket is bound
	Peer  netip.AddrPort // invalid for a release
	// The process in whose system call it happened.
	PID  int
	Comm string // the process's short name (its main thread's)
	// ProcessStart is when it started, ns since boot: with PID, one
	// process, whatever PIDs are reused.
	ProcessStart uint64
	UID, GID     uint32
	Cgroup       uint64
}

// Latency bounds how long an event can wait in the ring buffer when little
// comes (much wakes the reader at once): the recorder commits every
// second, and a reader that looks less often costs less when idle.
const Latency = 500 * time.Millisecond
