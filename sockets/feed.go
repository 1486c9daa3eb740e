package sockets

import "net/netip"

// TCPChange is the kernel's word that one TCP socket changed: its state,
// or the process holding it (accept). It says where to look, not what is
// there: a collector reads the socket again. A change with Moved set
// carries only a connection's newest byte counters, by cookie.
type TCPChange struct {
	Moved  bool
	Bytes  Traffic // with Moved
	NetNS  uint64  // network namespace inode
	Sock   uint64  // the socket's kernel address: names it while it lives
	Cookie uint64  // sock_diag's idiag_cookie; 0 when not known (accept)
	// Old and New are the states it left and entered; both 0 for an
	// accept.
	Old, New State
	// PID is the process in whose system call the change ran (connect,
	// listen, accept); 0 when the kernel made it on no one's behalf.
	PID int
	// Local's port reads 0 before connect chooses it (SYN_SENT) and once
	// the socket has given it back (CLOSE).
	Local, Remote netip.AddrPort
}

// A ChangeFeed tells a collector which TCP sockets changed since it last
// asked.
type ChangeFeed interface {
	// Changes appends the changes since the last call to buf. lost
	// reports that some were dropped: the caller must read every socket
	// again.
	Changes(buf []TCPChange) (out []TCPChange, lost bool, err error)
}
