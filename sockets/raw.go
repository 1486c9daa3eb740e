package sockets

import (
	"fmt"
	"net/netip"
	"slices"
)

// RawKind tells apart the sockets that receive packets without a port.
type RawKind uint8

// The kinds of raw socket.
const (
	// PacketSocket is an AF_PACKET socket: every frame of one protocol
	// (or of all) on one interface (or on all), before the firewall sees
	// it — tcpdump's, a DHCP client's, and BPFDoor's.
	PacketSocket RawKind = iota + 1
	// IPSocket is an AF_INET or AF_INET6 socket of type SOCK_RAW: every
	// packet of one IP protocol that reaches this host (ping's, a
	// routing daemon's).
	IPSocket
)

// String names the kind as ss does: "packet" (ss -0) or "raw" (ss -w).
func (k RawKind) String() string {
	switch k {
	case PacketSocket:
		return "packet"
	case IPSocket:
		return "raw"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// FilterState says what is known of the classic BPF filter on a raw
// socket.
type FilterState uint8

// Filter states.
const (
	// FilterUnread: the kernel was not asked, or would not say (a
	// /proc/net fallback; sock_diag without CAP_NET_ADMIN).
	FilterUnread FilterState = iota
	// FilterNone: the kernel says no filter is attached.
	FilterNone
	// FilterAttached: the filter is in RawSocket.Filter.
	FilterAttached
	// FilterEBPF: an eBPF program is attached (SO_ATTACH_BPF), which the
	// kernel does not give back as instructions.
	FilterEBPF
)

// FilterInstruction is one instruction of a classic BPF program, as the
// kernel holds it (struct sock_filter).
type FilterInstruction struct {
	Op     uint16
	Jt, Jf uint8
	K      uint32
}

// RawSocket is a socket that receives packets without a port: a packet
// socket or a raw IP socket. No firewall rule and no port scan sees one;
// a process holding one hears what it asks for on the interfaces it
// names.
type RawSocket struct {
	Kind RawKind
	// Cooked is set for a packet socket of type SOCK_DGRAM, which gets
	// frames without their link-layer header.
	Cooked bool
	// IPVersion is 4 or 6 for a raw IP socket, 0 for a packet socket.
	IPVersion int
	// Protocol is, for a packet socket, the EtherType it receives
	// (0x0003, ETH_P_ALL: every one; 0: none until bound); for a raw IP
	// socket, the IP protocol (255, IPPROTO_RAW: sends only).
	Protocol uint16
	// Ifindex is the interface it is bound to; 0 for every interface.
	Ifindex int
	// Interface names Ifindex in the socket's namespace; "" when it is 0
	// or the name could not be read.
	Interface string
	// Local is a raw IP socket's bound address (unspecified when none).
	Local netip.Addr
	UID   uint32
	Inode uint64
	// NetNS is the inode of the namespace it lives in.
	NetNS  uint64
	Cookie uint64
	// FilterState says whether Filter was read, and Filter is the
	// classic BPF program attached (SO_ATTACH_FILTER), when one is.
	FilterState FilterState
	Filter      []FilterInstruction
	// Processes hold the socket, as Socket.Processes.
	Processes []*Process
}

// ProtocolName names Protocol: an EtherType for a packet socket ("all",
// "ip", "0x88cc"), an IP protocol for a raw one ("icmp", "raw", "proto(89)").
func (r *RawSocket) ProtocolName() string {
	if r.Kind == PacketSocket {
		if n, ok := etherTypes[r.Protocol]; ok {
			return n
		}
		return fmt.Sprintf("0x%04x", r.Protocol)
	}
	if r.Protocol == 255 {
		return "raw"
	}
	return Proto(r.Protocol).String()
}

// etherTypes names the EtherTypes packet sockets commonly ask for
// (linux/if_ether.h).
var etherTypes = map[uint16]string{
	0x0000: "none", 0x0003: "all", 0x0800: "ip", 0x0806: "arp", 0x86dd: "ipv6", 0x8100: "vlan",
	0x88cc: "lldp", 0x888e: "eapol", 0x8035: "rarp", 0x88a8: "qinq", 0x8863: "pppoe-disc", 0x8864: "pppoe",
}

// String renders the socket for a sentence: "packet socket (all) on
// every interface", "raw4 socket (icmp) on 10.0.0.1".
func (r *RawSocket) String() string {
	where := "every interface"
	if r.Ifindex != 0 {
		where = r.Interface
		if where == "" {
			where = fmt.Sprintf("interface %d", r.Ifindex)
		}
	}
	if r.Kind == IPSocket && r.Local.IsValid() && !r.Local.IsUnspecified() {
		where = r.Local.String()
	}
	kind := r.Kind.String()
	if r.Kind == IPSocket {
		kind += fmt.Sprintf("%d", r.IPVersion)
	}
	return kind + " socket (" + r.ProtocolName() + ") on " + where
}

// sameRaw reports whether two readings show the same raw socket, bound and
// filtered the same way; owners are not compared.
func sameRaw(a, b []RawSocket) bool {
	return slices.EqualFunc(a, b, func(x, y RawSocket) bool {
		return x.Kind == y.Kind && x.Cooked == y.Cooked && x.IPVersion == y.IPVersion && x.Protocol == y.Protocol &&
			x.Ifindex == y.Ifindex && x.Interface == y.Interface && x.Local == y.Local && x.UID == y.UID &&
			x.Inode == y.Inode && x.NetNS == y.NetNS && x.Cookie == y.Cookie && x.FilterState == y.FilterState &&
			slices.Equal(x.Filter, y.Filter)
	})
}

// Holding is a Socket carrying only where r lives and who holds it: for
// what asks that of any socket (its container, its owners' signs).
func (r *RawSocket) Holding() *Socket {
	return &Socket{NetNS: r.NetNS, Inode: r.Inode, UID: r.UID, Processes: r.Processes}
}

// LocalLabel is the socket's local end as ss shows it: "lo:ip", "*:all",
// "10.0.0.1:icmp".
func (r *RawSocket) LocalLabel() string {
	where := "*"
	switch {
	case r.Kind == IPSocket && r.Local.IsValid() && !r.Local.IsUnspecified():
		where = r.Local.String()
		if r.IPVersion == 6 {
			where = "[" + where + "]"
		}
	case r.Ifindex != 0 && r.Interface != "":
		where = r.Interface
	case r.Ifindex != 0:
		where = fmt.Sprintf("if%d", r.Ifindex)
	}
	return where + ":" + r.ProtocolName()
}

// KindLabel is the kind as a table's PROTO column shows it: "packet",
// "raw", "raw6".
func (r *RawSocket) KindLabel() string {
	if r.Kind == IPSocket && r.IPVersion == 6 {
		return "raw6"
	}
	return r.Kind.String()
}
