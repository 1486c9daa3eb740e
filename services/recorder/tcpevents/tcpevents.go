package tcpevents

import (
	"net/netip"
	"os"
	"time"

	"github.com/portwarden/portwarden/sockets"
)

// ErrClosed is returned by Read once the Reader is closed.
var ErrClosed = os.ErrClosed

// Options choose what a Reader reports. The zero value is the recorder's.
type Options struct {
	// EveryChange reports every state change of every TCP socket, not
	// only those that open or end a lifetime: what a table kept up to
	// date between full reads needs.
	EveryChange bool
	// RingBytes sizes the ring buffer: a power of two, a multiple of the
	// page size; 0 means 16 MiB.
	RingBytes uint32
	// Traffic keeps the byte counters of every connection that received
	// a segment, for Reader.Moved.
	Traffic bool
	// TrafficSockets bounds how many connections' counters wait between
	// two calls of Moved; 0 means 65,536. Past it, counters are lost
	// (Lost counts them).
	TrafficSockets uint32
}

// Kind says what an Event reports.
type Kind uint8

// The kinds of event.
const (
	// StateChange is a TCP socket entering SYN_SENT (connect),
	// ESTABLISHED from SYN_SENT, SYN_RECV (a connection arriving on a
	// listener), LISTEN, or CLOSE. The local port reads 0 in SYN_SENT
	// (not chosen yet) and in CLOSE (already given back).
	StateChange Kind = 1
	// Accepted is a process taking an arrived connection with accept():
	// the socket, its ends and the process; no cookie, no states.
	Accepted Kind = 2
)

// Event is one change in the life of a TCP socket.
type Event struct {
	Kind Kind
	Time time.Time
	// Sock is the socket's kernel address: its identity while it lives,
	// and the one an Accepted event carries besides its ends.
	Sock uint64
	// Cookie is sock_diag's idiag_cookie for the socket, as a netlink
	// dump reports it.
	Cookie uint64
	NetNS  uint64 // network namespace inode
	// PID and Comm name the process in whose system call the change ran:
	// set for connect (SYN_SENT), listen (LISTEN) and accept; 0 and ""
	// otherwise, as the kernel makes those changes on no process's behalf.
	PID  int
	Comm string
	// ProcessStart is when that process started, in nanoseconds since
	// boot: with PID, it names one process, whatever PIDs are reused.
	ProcessStart uint64
	// UID, GID and Cgroup are that process's real user and group and
	// its cgroup (v2) ID, read with the event: what an owner keeps when
	// the process is gone before /proc can be read.
	UID, GID uint32
	Cgroup   uint64
	// CgroupTail is the last two directories of that cgroup's path
	// ("/system.slice/backup.service"), read with the event: what names
	// a unit or container gone, with its cgroup, before the event is
	// read. "" when the kernel gave none.
	CgroupTail    string
	Old, New      sockets.State
	Local, Remote netip.AddrPort
	// Bytes is what the connection carried, read when it entered CLOSE;
	// zero for other changes.
	Bytes sockets.Traffic
}
