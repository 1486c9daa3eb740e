//go:build linux

package firewall

import (
	"encoding/binary"
	"net/netip"

	"github.com/portwarden/portwarden/sockets"
	"golang.org/x/sys/unix"
)

// stage is which packet of a connection the evaluator follows: every one
// of them must get through for the connection to work.
type stage uint8

const (
	stageNew       stage = iota // the first: a TCP SYN, the first datagram
	stageOriginal               // the client's next ones (the ACK): established
	stageReply                  // the listener's answer (SYN-ACK, the reply datagram)
	stageReplyData              // the listener's later packets (its data: ACK, PSH)
	// IPv6 neighbour discovery with an on-link peer, before anything else:
	stageSolicit // the peer's neighbour solicitation for the listener's address
	stageAdvert  // the listener host's advertisement back
)

// packet is one packet of a flow, as the base chains see it, but for the
// peer's address — the source, or in a reply the destination — which the
// evaluator follows as a set.
type packet struct {
	v6    bool
	stage stage
	dport uint16 // the listener's port: the destination, or in a reply the source
	// untracked: a notrack statement took the packet out of connection
	// tracking, so ct expressions other than "ct state" find no entry.
	untracked bool
	fromHost  bool       // the packet is this host's own
	iif, oif  *Interface // nil: none
	vals      [fieldCount][]byte
	// each field's first 8 bytes, packed big-endian, for fast tests
	ints [fieldCount]uint64
	lens [fieldCount]uint32
	// store backs vals: one allocation for the whole packet
	store [fieldCount][16]byte
}

// flow describes the packet to follow.
type flow struct {
	v6       bool
	proto    sockets.Proto
	iif, oif *Interface // oif: forwarded packets only
	daddr    netip.Addr
	dport    uint16
	local    bool // daddr is this namespace's own (fib daddr type local)
	fromHost bool // the source is this namespace's own address
	dnatted  bool // a DNAT rewrote the destination on the way
	stage    stage
	// untracked: the first packet was taken out of connection tracking,
	// so a reply starts a connection of its own (ct state new).
	untracked bool
}

func newPacket(f flow) *packet {
	p := &packet{}
	p.fill(f)
	return p
}

// reply reports whether the stage's packets go from the listener to the
// peer.
func (s stage) reply() bool { return s == stageReply || s == stageReplyData }

// icmpv6 numbers neighbour discovery uses.
const (
	icmpv6Solicit     = 135
	icmpv6Advert      = 136
	rtnMulticast      = 5 // RTN_MULTICAST
	packetMulticast   = 2 // PACKET_MULTICAST
	ctStateUntracked  = 1 << 6
	xtStateUntracked  = 1 << 8
	solicitedNodeBits = 104
)

// fill makes p the packet f describes, reusing its storage.
func (p *packet) fill(f flow) {
	if f.stage == stageSolicit || f.stage == stageAdvert {
		p.fillND(f)
		return
	}
	*p = packet{v6: f.v6, stage: f.stage, dport: f.dport, iif: f.iif, oif: f.oif, fromHost: f.fromHost}
	reply := f.stage.reply()
	set, u32, u16 := p.set, p.u32, p.u16
	set(fieldL4Proto, byte(f.proto))
	// The listener's own address: the destination, or a reply's source.
	local4, local6 := fieldDaddr4, fieldDaddr6
	if reply {
		local4, local6 = fieldSaddr4, fieldSaddr6
	}
	if f.v6 {
		set(fieldNFProto, unix.NFPROTO_IPV6)
		set(fieldEtherType, 0x86, 0xdd)
		a := f.daddr.As16()
		set(local6, a[:]...)
	} else {
		set(fieldNFProto, unix.NFPROTO_IPV4)
		set(fieldEtherType, 0x08, 0x00)
		a := f.daddr.As4()
		set(local4, a[:]...)
	}
	p.link(fieldIifname, fieldIif, f.iif)
	p.link(fieldOifname, fieldOif, f.oif)
	ifType := uint16(unix.ARPHRD_ETHER)
	if f.iif != nil && f.iif.Loopback {
		ifType = unix.ARPHRD_LOOPBACK
	}
	u16(fieldIifType, ifType)
	set(fieldPktType, unix.PACKET_HOST)
	localPort := fieldDport
	if reply {
		localPort = fieldSport
	}
	p.vals[localPort] = binary.BigEndian.AppendUint16(p.store[localPort][:0], f.dport)
	if f.proto == sockets.TCP {
		set(fieldTCPFlags, [...]byte{stageNew: 0x02, stageOriginal: 0x10, stageReply: 0x12, stageReplyData: 0x18}[f.stage]) // SYN, ACK, SYN-ACK, PSH-ACK
	}
	// ct state and status: a first packet's entry is new, unconfirmed,
	// has seen no reply; later packets are established. Only a DNAT on
	// the path sets NAT bits. A reply to an untracked packet starts a
	// connection of its own.
	established := f.stage != stageNew && !(reply && f.untracked)
	ctState, xtState, ctStatus := uint32(0x08), uint16(1<<3), uint32(0) // NEW
	if established {
		ctState, xtState, ctStatus = 0x02, 1<<1, 1<<1|1<<3 // ESTABLISHED; IPS_SEEN_REPLY, IPS_CONFIRMED
	}
	if f.dnatted {
		ctStatus |= 1<<5 | 1<<8 // IPS_DST_NAT, IPS_DST_NAT_DONE
		xtState |= 1 << 7       // XT_CONNTRACK_STATE_DNAT
	}
	u32(fieldCtState, ctState)
	u32(fieldCtStatus, ctStatus)
	if reply && established {
		set(fieldCtDir, 1) // IP_CT_DIR_REPLY
	} else {
		set(fieldCtDir, 0) // IP_CT_DIR_ORIGINAL
	}
	// A source arrives where the route back to it leaves: a reverse-path
	// lookup (fib saddr . iif oif) finds the input interface.
	if f.iif != nil {
		u32(fieldFibSaddrOif, uint32(f.iif.Index))
	} else {
		u32(fieldFibSaddrOif, 0)
	}
	addrType := uint32(unix.RTN_UNICAST)
	if f.local {
		addrType = unix.RTN_LOCAL
	}
	u32(fieldFibDaddrType, addrType)
	u16(fieldDaddrTypes, 1<<addrType)
	srcType := uint16(unix.RTN_UNICAST)
	if f.fromHost {
		srcType = unix.RTN_LOCAL
	}
	u16(fieldSaddrTypes, 1<<srcType)
	u32(fieldFibSaddrType, uint32(srcType))
	u16(fieldXtCtState, xtState)
	if reply && !f.fromHost {
		// A route lookup of a reply to a remote peer is not modelled; this
		// host's own reply is local at both ends, and arrives by lo.
		p.vals[fieldFibDaddrType], p.vals[fieldFibSaddrOif], p.vals[fieldFibSaddrType] = nil, nil, nil
		p.vals[fieldSaddrTypes], p.vals[fieldDaddrTypes] = nil, nil
	}
	p.pack()
}

// fillND makes p a neighbour discovery packet between an on-link peer and
// this host's address f.daddr: the peer's solicitation to the address's
// solicited-node multicast group, or this host's advertisement back.
// Conntrack does not track them: ct state is untracked.
func (p *packet) fillND(f flow) {
	*p = packet{v6: true, stage: f.stage, dport: f.dport, iif: f.iif, oif: f.oif, untracked: true}
	set, u32, u16 := p.set, p.u32, p.u16
	set(fieldL4Proto, byte(sockets.ICMPv6))
	set(fieldNFProto, unix.NFPROTO_IPV6)
	set(fieldEtherType, 0x86, 0xdd)
	a := f.daddr.As16()
	p.link(fieldIifname, fieldIif, f.iif)
	p.link(fieldOifname, fieldOif, f.oif)
	if f.stage == stageSolicit {
		group := netip.MustParsePrefix("ff02::1:ff00:0/104").Addr().As16()
		copy(group[solicitedNodeBits/8:], a[solicitedNodeBits/8:])
		set(fieldDaddr6, group[:]...)
		set(fieldICMPType, icmpv6Solicit)
		set(fieldPktType, packetMulticast)
		u32(fieldFibDaddrType, rtnMulticast)
		u16(fieldIifType, unix.ARPHRD_ETHER)
		u32(fieldFibSaddrOif, uint32(f.iif.Index))
	} else {
		set(fieldSaddr6, a[:]...)
		set(fieldICMPType, icmpv6Advert)
	}
	set(fieldHopLimit, 255) // neighbour discovery never crosses a router
	u32(fieldCtState, ctStateUntracked)
	u16(fieldXtCtState, xtStateUntracked)
	p.pack()
}

func (p *packet) set(fl field, b ...byte) { p.vals[fl] = p.store[fl][:copy(p.store[fl][:], b)] }
func (p *packet) u32(fl field, v uint32) {
	p.vals[fl] = binary.NativeEndian.AppendUint32(p.store[fl][:0], v)
}
func (p *packet) u16(fl field, v uint16) {
	p.vals[fl] = binary.NativeEndian.AppendUint16(p.store[fl][:0], v)
}

// link sets an interface's name and index fields (0: none).
func (p *packet) link(name, index field, i *Interface) {
	p.vals[name] = p.store[name][:16]
	if i != nil {
		copy(p.vals[name][:15], i.Name)
		p.u32(index, uint32(i.Index))
	} else {
		p.u32(index, 0)
	}
}

// peer are the fields that hold the peer's address and port: the source,
// or in a reply the destination.
func (p *packet) peer() (addr4, addr6, port field) {
	if p.stage.reply() || p.stage == stageAdvert {
		return fieldDaddr4, fieldDaddr6, fieldDport
	}
	return fieldSaddr4, fieldSaddr6, fieldSport
}

func (p *packet) pack() {
	for f, v := range p.vals {
		p.lens[f] = uint32(len(v))
		if len(v) >= 8 {
			p.ints[f] = binary.BigEndian.Uint64(v)
			continue
		}
		// pack(v, 8, 0), without a loop over the padding
		var x uint64
		for _, c := range v {
			x = x<<8 | uint64(c)
		}
		p.ints[f] = x << (8 * (8 - len(v)) % 64)
	}
}

// untrack takes the packet out of connection tracking: "ct state" reads
// untracked, and tests of the entry's other keys find none.
func (p *packet) untrack() {
	p.untracked = true
	p.vals[fieldCtState] = binary.NativeEndian.AppendUint32(p.store[fieldCtState][:0], 1<<6) // NF_CT_STATE_UNTRACKED_BIT
	p.vals[fieldXtCtState] = binary.NativeEndian.AppendUint16(p.store[fieldXtCtState][:0], 1<<8)
	p.pack()
}

// noEntry reports whether a test of f cannot match because the packet
// has no connection tracking entry.
func (p *packet) noEntry(f field) bool {
	return p.untracked && (f == fieldCtStatus || f == fieldCtDir || f == fieldCtMark)
}
