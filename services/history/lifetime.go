// Package history keeps the flight recorder's record: the lifetime of every
// TCP connection and every TCP and UDP listener, in an embedded SQLite
// database (pure Go, so the binary stays static).
package history

import (
	"net/netip"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

// DefaultPath is where the recorder keeps its database.
const DefaultPath = "/var/lib/portwarden/history.db"

// Kind says what a lifetime is the life of.
type Kind uint8

// The kinds of lifetime.
const (
	Connection Kind = 1
	Listener   Kind = 2
)

// String returns "connection" or "listener".
func (k Kind) String() string {
	switch k {
	case Connection:
		return "connection"
	case Listener:
		return "listener"
	}
	return "unknown"
}

// Direction says which end of a connection is this host's.
type Direction uint8

// The directions.
const (
	NoDirection Direction = 0 // a listener
	Inbound     Direction = 1 // a peer connected to a listener here
	Outbound    Direction = 2 // a process here connected out
	// Local is a connection whose peer is this host itself (loopback, or
	// one of the namespace's own addresses).
	Local Direction = 3
)

// String returns "inbound", "outbound", "local", or "" for none.
func (d Direction) String() string {
	switch d {
	case Inbound:
		return "inbound"
	case Outbound:
		return "outbound"
	case Local:
		return "local"
	}
	return ""
}

// Source says how a lifetime was seen.
type Source uint8

// The sources.
const (
	// EBPF is the kernel's own events: nothing is missed but what the
	// ring buffer lost (counted).
	EBPF Source = 1
	// Poll is a netlink dump every interval: what lived less than one
	// may be missing.
	Poll Source = 2
	// Unrecorded says a kind of fact is not recorded at all (scans where
	// neither the probe program nor the kernel's counters could be read).
	Unrecorded Source = 3
)

// String returns "ebpf" or "poll".
func (s Source) String() string {
	switch s {
	case EBPF:
		return "ebpf"
	case Poll:
		return "poll"
	case Unrecorded:
		return "none"
	}
	return "unknown"
}

// Owner is the process a lifetime belongs to, with the namespace it lived
// in. Empty fields were not known: not read, or gone before they could be.
type Owner struct {
	PID       int
	Process   string // the kernel's short name (comm)
	Exe       string
	User      string
	Unit      string
	Container string
	NetNS     uint64
	// NetNSName is the namespace's name when recorded (ip netns, Docker);
	// "" for the host's or one without.
	NetNSName string
}

// Lifetime is one connection or listener, from when it was first seen to
// when it was last seen.
type Lifetime struct {
	// ID is the store's number for it; 0 until written.
	ID        int64
	Kind      Kind
	Proto     sockets.Proto
	Local     netip.AddrPort
	Remote    netip.AddrPort // zero for a listener
	Direction Direction
	// ServicePort is the port of the side that listens: the local port
	// of a listener or an inbound connection, the remote port of an
	// outbound one. --port matches it.
	ServicePort uint16
	Owner       Owner
	FirstSeen   time.Time
	LastSeen    time.Time
	Open        bool // still open when last seen
	Source      Source
	// Bytes is the payload the connection carried, as the kernel counted
	// it when it closed, when Counted: a TCP connection whose end the
	// kernel's events told (not polled, not UDP, not still open).
	Bytes   sockets.Traffic
	Counted bool
}

// Stats describe the record as a whole.
type Stats struct {
	// Lifetimes is how many the store holds.
	Lifetimes int64
	// Events is how many kernel events or poll changes were recorded;
	// Lost is how many the kernel dropped, over every run of the recorder.
	Events, Lost uint64
	// Dropped is how many lifetimes recorders gave up to go on recording
	// on a full disk, over every run.
	Dropped uint64
	// UnnamedUDP and UnnamedResets are the closed-port probes counted
	// where they could not be traced (UDP datagrams to closed ports, TCP
	// resets sent), over every run: their sources are not known.
	UnnamedUDP, UnnamedResets uint64
	// Scans is how the last recorder knew scans: EBPF (each probe, with
	// its source), Poll (counted, UnnamedUDP and UnnamedResets), or
	// Unrecorded; 0 for a record made before scans were.
	Scans Source
	// Source is how the last recorder ran.
	Source Source
	// LastCommit is when a recorder last wrote; zero if never.
	LastCommit time.Time
	// Oldest and Newest bound the record; zero when it is empty.
	Oldest, Newest time.Time
	// Bytes is the size of the database with its write-ahead log.
	Bytes int64
	// Gaps are the times no recorder ran, over the whole record (the
	// time since the last run too, when none runs now).
	Gaps []Gap
}

// GapTime is how long the record was blind, in all.
func (s Stats) GapTime() time.Duration {
	var d time.Duration
	for _, g := range s.Gaps {
		d += g.Duration()
	}
	return d
}
