// Package sockets collects the TCP and UDP sockets of this machine and the
// processes that hold them. It knows nothing of policy or presentation: it
// answers "what is open, and who holds it", fast and completely.
package sockets

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// Proto is a transport protocol, by its IP protocol number: the one type
// every package uses for it, and the one place its names live.
type Proto uint8

// The protocols portwarden collects, and the others firewall rules name.
const (
	ICMP   Proto = 1
	TCP    Proto = 6
	UDP    Proto = 17
	GRE    Proto = 47
	ESP    Proto = 50
	ICMPv6 Proto = 58
	SCTP   Proto = 132
)

var protoNames = map[Proto]string{ICMP: "icmp", TCP: "tcp", UDP: "udp", GRE: "gre", ESP: "esp", ICMPv6: "icmpv6", SCTP: "sctp"}

// Name returns the protocol's name ("tcp"), or "" for one without.
func (p Proto) Name() string { return protoNames[p] }

// String returns the protocol's name, or "proto(N)".
func (p Proto) String() string {
	if n := p.Name(); n != "" {
		return n
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// ParseProto reads "tcp" or "udp", the protocols a socket, a block or a
// baseline entry names.
func ParseProto(s string) (Proto, error) {
	switch s {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	}
	return 0, fmt.Errorf("%q: the protocol is tcp or udp", s)
}

// State is a socket state, numbered as the Linux kernel numbers TCP states
// (include/net/tcp_states.h). UDP sockets reuse Established (connected) and
// Close (unconnected).
type State uint8

// Socket states.
const (
	StateUnknown State = iota
	Established
	SynSent
	SynRecv
	FinWait1
	FinWait2
	TimeWait
	Close
	CloseWait
	LastAck
	Listen
	Closing
	NewSynRecv
)

var stateNames = [...]string{
	StateUnknown: "UNKNOWN",
	Established:  "ESTABLISHED",
	SynSent:      "SYN_SENT",
	SynRecv:      "SYN_RECV",
	FinWait1:     "FIN_WAIT1",
	FinWait2:     "FIN_WAIT2",
	TimeWait:     "TIME_WAIT",
	Close:        "CLOSE",
	CloseWait:    "CLOSE_WAIT",
	LastAck:      "LAST_ACK",
	Listen:       "LISTEN",
	Closing:      "CLOSING",
	NewSynRecv:   "NEW_SYN_RECV",
}

// String returns the kernel's name of the state, spelled out (ESTABLISHED).
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("STATE(%d)", uint8(s))
}

// Socket is one TCP or UDP socket. Its small fields come first, packed
// together: 144 bytes a socket, not 160, a hundred thousand times over
// on a busy host.
type Socket struct {
	Proto Proto
	State State
	// V6Only is set for an IPv6 socket that refuses IPv4 (IPV6_V6ONLY).
	// An IPv6 listener on [::] without it accepts IPv4 as well. Known
	// from netlink only; /proc/net does not tell, and reads as false.
	V6Only bool
	// Counted is set when Bytes holds the kernel's counters: a TCP
	// socket read through sock_diag. UDP sockets have none there.
	Counted bool
	UID     uint32 // owner of the socket as the kernel records it
	Local   netip.AddrPort
	Remote  netip.AddrPort
	Inode   uint64 // 0 for sockets no file refers to (TIME_WAIT, backlog)
	// Processes hold the socket; several for a socket inherited or passed
	// between processes (a pre-forked server). Empty when no process holds
	// it, or when the owner could not be read (see Snapshot.Complete).
	// The slice and the processes are shared: treat them as read-only.
	Processes []*Process
	// NetNS is the inode of the network namespace the socket lives in
	// (see Snapshot.Namespaces); 0 where the system has none.
	NetNS uint64
	// Cookie is the kernel's unique number for this socket (sock_diag's
	// idiag_cookie): a request naming it reaches this socket or none,
	// never a later one with the same addresses. 0 when read from
	// /proc/net, which does not tell.
	Cookie uint64
	// Bytes is the payload the connection carried, as the kernel counts
	// it (tcp_info), when Counted. A snapshot may hold newer counters
	// than its socket's: read them with Snapshot.Traffic.
	Bytes Traffic

	// timer and expiresMs are what sock_diag said of the socket's timer
	// when read: which one runs (timewaitTimer for the kernel's small
	// socket that outlives a closed connection) and in how many
	// milliseconds it fires.
	timer     uint8
	expiresMs uint32
}

// Traffic is what the kernel counted of a TCP connection's payload since
// it opened: Rx the bytes received (tcpi_bytes_received), Tx the bytes
// sent, each once however often it was retransmitted (tcpi_bytes_sent
// less tcpi_bytes_retrans). Headers, handshakes and UDP are not in it.
type Traffic struct {
	Rx, Tx uint64
}

// timewaitTimer is sock_diag's idiag_timer for a timewait socket: one in
// TIME_WAIT, or an orphaned FIN_WAIT2 the kernel keeps the same way.
const timewaitTimer = 3

// same reports whether a and b are the same socket in the same state, as
// the kernel reported them; owners are not compared.
func (s *Socket) same(o *Socket) bool {
	return s.Proto == o.Proto && s.Local == o.Local && s.Remote == o.Remote && s.State == o.State &&
		s.UID == o.UID && s.Inode == o.Inode && s.V6Only == o.V6Only && s.NetNS == o.NetNS && s.Cookie == o.Cookie
}

// Unchanged reports whether o is s read again: the same socket in the
// same state, held by the same processes. Byte counters are not compared.
func (s *Socket) Unchanged(o *Socket) bool {
	return s.same(o) && slices.Equal(s.Processes, o.Processes)
}

// PeerIsSelf reports whether a connection between these addresses stays
// on this host: the peer's is a loopback address, or the connection's own
// local one. The kernel sends a connection to one of the host's own
// addresses from that same address, over lo, so a peer with the local
// address is this host, never another.
func PeerIsSelf(local, remote netip.Addr) bool {
	remote = remote.WithZone("").Unmap()
	return remote.IsLoopback() || remote == local.WithZone("").Unmap()
}

// IPVersion returns 4 or 6, the family of the socket (an IPv6 socket with an
// IPv4-mapped address is still 6).
func (s *Socket) IPVersion() int {
	if s.Local.Addr().Is4() {
		return 4
	}
	return 6
}

// StateName is the state as admins read it: the kernel's name, except
// "UNCONN" for an unconnected UDP socket, as ss prints it.
func (s *Socket) StateName() string {
	if s.Proto == UDP && s.State == Close {
		return "UNCONN"
	}
	return s.State.String()
}

// shortStates are ss's names of the states, for narrow columns.
var shortStates = [...]string{
	Established: "ESTAB", SynSent: "SYN-SENT", SynRecv: "SYN-RECV", FinWait1: "FIN-WAIT-1",
	FinWait2: "FIN-WAIT-2", TimeWait: "TIME-WAIT", Close: "CLOSE", CloseWait: "CLOSE-WAIT",
	LastAck: "LAST-ACK", Listen: "LISTEN", Closing: "CLOSING", NewSynRecv: "SYN-RECV",
}

// ShortStateName turns a StateName into ss's shorter one: "ESTAB",
// "TIME-WAIT" — at most 10 characters. Other text is returned as it is.
func ShortStateName(name string) string {
	for st, long := range stateNames {
		if long == name && int(st) < len(shortStates) && shortStates[st] != "" {
			return shortStates[st]
		}
	}
	return name
}

// Listening reports whether the socket waits for peers: a TCP listener or an
// unconnected UDP socket.
func (s *Socket) Listening() bool {
	return s.State == Listen || (s.Proto == UDP && s.State == Close)
}

// ID returns the socket's stable identity across snapshots.
func (s *Socket) ID() ID {
	return ID{Proto: s.Proto, Local: s.Local, Remote: s.Remote, Inode: s.Inode, NetNS: s.NetNS}
}

// ID identifies a socket across snapshots: the same protocol, endpoints,
// inode and namespace are the same socket (two namespaces may hold
// TIME_WAIT sockets with the same endpoints and no inode). It is
// comparable and usable as a map key.
type ID struct {
	Proto  Proto
	Local  netip.AddrPort
	Remote netip.AddrPort
	Inode  uint64
	NetNS  uint64
}

// String renders the ID as "tcp 127.0.0.1:22 0.0.0.0:0 #1234".
func (id ID) String() string {
	return fmt.Sprintf("%s %s %s #%d", id.Proto, id.Local, id.Remote, id.Inode)
}

// Process is a process that holds at least one socket.
type Process struct {
	PID     int
	PPID    int
	Name    string   // the kernel's short name (comm), at most 15 bytes
	Exe     string   // path of the executable; "" when unreadable
	Cmdline []string // argv; nil when unreadable or a kernel thread
	UID     uint32   // effective user ID
	User    string   // user name, or the UID in decimal when unknown
	// StartTicks is the start time in clock ticks since boot, as in
	// /proc/PID/stat. With PID it identifies a process: a recycled PID
	// gets a new start time.
	StartTicks uint64
	Start      time.Time
	// Cgroup is the process's control group path ("/system.slice/ssh.service"),
	// from the unified hierarchy or systemd's named one; "" when unknown.
	Cgroup string
}

// Snapshot is every socket seen in one collection.
type Snapshot struct {
	Time    time.Time
	Sockets []Socket
	// Complete reports whether the file descriptors of every process could
	// be read. When false, a socket without processes may have an owner
	// that this user cannot see (run as root to see all).
	Complete bool
	// Source names how sockets were enumerated: "netlink" or "procfs".
	Source string
	// Warnings say what was skipped: vanished processes, unreadable fd
	// directories, namespaces that could not be entered, malformed lines.
	// Collection goes on past all of them.
	Warnings []string
	// Namespaces are the network namespaces the sockets live in, the
	// host's first.
	Namespaces []Namespace
	// Raw are the packet and raw IP sockets, which receive without a
	// port: read for queries that single out no protocol.
	Raw []RawSocket

	holders []*Process // set by the collector that found them; see Holders
	// moved holds counters read after Sockets was built, by cookie: a
	// collector that hands back the same sockets adds what moved here.
	moved map[uint64]Traffic
	// A collector that follows the kernel's events numbers its snapshots
	// (seq) and says what changed since the one before (follows, not 0):
	// the sockets whose counters moved and the connections new since, by
	// index in Sockets; and, when it knows, that the first kept sockets
	// are the same as that snapshot's but those at changedAt (see Kept).
	seq, follows     uint64
	movedAt, addedAt []int32
	kept             int
	keptKnown        bool
	changedAt        []int32
	firstListener    int // see FirstListener
}

// Holders returns every process holding a socket of the snapshot (raw ones
// too), once each, ascending by PID. The slice is shared: treat it as
// read-only.
func (snap *Snapshot) Holders() []*Process {
	if snap.holders != nil {
		return snap.holders
	}
	byPID := map[int]*Process{}
	for i := range snap.Sockets {
		for _, p := range snap.Sockets[i].Processes {
			byPID[p.PID] = p
		}
	}
	for i := range snap.Raw {
		for _, p := range snap.Raw[i].Processes {
			byPID[p.PID] = p
		}
	}
	return holdersOf(byPID)
}

// holdersOf lists processes by PID, ascending; never nil.
func holdersOf(byPID map[int]*Process) []*Process {
	out := make([]*Process, 0, len(byPID))
	for _, p := range byPID {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Process) int { return a.PID - b.PID })
	return out
}

// Holds reports whether process pid holds s.
func (s *Socket) Holds(pid int) bool {
	for _, p := range s.Processes {
		if p.PID == pid {
			return true
		}
	}
	return false
}

// Holding is what one process holds in a snapshot: its sockets, and the
// other processes that hold some of them too (and so keep them open when
// it ends).
type Holding struct {
	Sockets []*Socket
	Sharers []int // PIDs, ascending
}

// HeldBy returns the sockets process pid holds and who shares them.
func (snap *Snapshot) HeldBy(pid int) Holding {
	var h Holding
	seen := map[int]bool{}
	for i := range snap.Sockets {
		s := &snap.Sockets[i]
		if !s.Holds(pid) {
			continue
		}
		h.Sockets = append(h.Sockets, s)
		for _, p := range s.Processes {
			if p.PID != pid && !seen[p.PID] {
				seen[p.PID] = true
				h.Sharers = append(h.Sharers, p.PID)
			}
		}
	}
	slices.Sort(h.Sharers)
	return h
}

// Process returns the process with pid and start time in the snapshot, or
// nil.
func (snap *Snapshot) Process(pid int, startTicks uint64) *Process {
	for i := range snap.Sockets {
		for _, p := range snap.Sockets[i].Processes {
			if p.PID == pid && p.StartTicks == startTicks {
				return p
			}
		}
	}
	for i := range snap.Raw {
		for _, p := range snap.Raw[i].Processes {
			if p.PID == pid && p.StartTicks == startTicks {
				return p
			}
		}
	}
	return nil
}
