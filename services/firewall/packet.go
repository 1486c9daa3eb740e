//go:build linux

package firewall

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// packet is the first packet of a new flow, as the base chains see it,
// but for its source address, which the evaluator follows as a set.
type packet struct {
	v6    bool
	dport uint16
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
	proto    uint8
	iif, oif *Interface // oif: forwarded packets only
	daddr    netip.Addr
	dport    uint16
	local    bool // daddr is this namespace's own (fib daddr type local)
	fromHost bool // the source is this namespace's own address
	dnatted  bool // a DNAT rewrote the destination on the way
}

func newPacket(f flow) *packet {
	p := &packet{v6: f.v6, dport: f.dport, iif: f.iif, oif: f.oif, fromHost: f.fromHost}
	set := func(fl field, b ...byte) { p.vals[fl] = p.store[fl][:copy(p.store[fl][:], b)] }
	u32 := func(fl field, v uint32) { p.vals[fl] = binary.NativeEndian.AppendUint32(p.store[fl][:0], v) }
	u16 := func(fl field, v uint16) { p.vals[fl] = binary.NativeEndian.AppendUint16(p.store[fl][:0], v) }
	set(fieldL4Proto, f.proto)
	if f.v6 {
		set(fieldNFProto, unix.NFPROTO_IPV6)
		set(fieldEtherType, 0x86, 0xdd)
		a := f.daddr.As16()
		set(fieldDaddr6, a[:]...)
	} else {
		set(fieldNFProto, unix.NFPROTO_IPV4)
		set(fieldEtherType, 0x08, 0x00)
		a := f.daddr.As4()
		set(fieldDaddr4, a[:]...)
	}
	link := func(name, index field, i *Interface) {
		p.vals[name] = p.store[name][:16]
		if i != nil {
			copy(p.vals[name][:15], i.Name)
			u32(index, uint32(i.Index))
		} else {
			u32(index, 0)
		}
	}
	link(fieldIifname, fieldIif, f.iif)
	link(fieldOifname, fieldOif, f.oif)
	ifType := uint16(unix.ARPHRD_ETHER)
	if f.iif != nil && f.iif.Loopback {
		ifType = unix.ARPHRD_LOOPBACK
	}
	u16(fieldIifType, ifType)
	set(fieldPktType, unix.PACKET_HOST)
	p.vals[fieldDport] = binary.BigEndian.AppendUint16(p.store[fieldDport][:0], f.dport)
	if f.proto == unix.IPPROTO_TCP {
		set(fieldTCPFlags, 0x02) // SYN
	}
	u32(fieldCtState, 0x08) // NF_CT_STATE_BIT(IP_CT_NEW)
	// ct status: a first packet's entry is not confirmed, has seen no
	// reply and expects nothing; only a DNAT on its path sets bits.
	ctStatus := uint32(0)
	if f.dnatted {
		ctStatus = 1<<5 | 1<<8 // IPS_DST_NAT, IPS_DST_NAT_DONE
	}
	u32(fieldCtStatus, ctStatus)
	set(fieldCtDir, 0) // IP_CT_DIR_ORIGINAL
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
	xtState := uint16(1 << 3) // XT_CONNTRACK_STATE_BIT(IP_CT_NEW)
	if f.dnatted {
		xtState |= 1 << 7 // XT_CONNTRACK_STATE_DNAT
	}
	u16(fieldXtCtState, xtState)
	p.pack()
	return p
}

func (p *packet) pack() {
	for f, v := range p.vals {
		p.lens[f] = uint32(len(v))
		p.ints[f] = pack(v, 8, 0)
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
	return p.untracked && (f == fieldCtStatus || f == fieldCtDir)
}
