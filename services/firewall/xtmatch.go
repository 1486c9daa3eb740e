//go:build linux

package firewall

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// The xtables matches iptables-legacy rules carry (and iptables-nft, where
// it does not translate them): each becomes the tests nft would write.

// xtMatch compiles a match other than addrtype and conntrack, reporting
// false for one the evaluator does not follow.
func (r *rule) xtMatch(m *expr.Match, v6 bool) bool {
	switch info := m.Info.(type) {
	case *xt.Tcp:
		r.portTests(info.SrcPorts, uint8(info.InvFlags)&0x01 != 0, info.DstPorts, uint8(info.InvFlags)&0x02 != 0)
		if info.Option != 0 {
			return false
		}
		if info.FlagsMask != 0 {
			op := expr.CmpOpEq
			if uint8(info.InvFlags)&0x04 != 0 {
				op = expr.CmpOpNeq
			}
			r.addTest(test{field: fieldTCPFlags, length: 1, mask: []byte{info.FlagsMask}, op: opCmp, cmp: op, data: []byte{info.FlagsCmp}})
		}
		return true
	case *xt.Udp:
		r.portTests(info.SrcPorts, uint8(info.InvFlags)&0x01 != 0, info.DstPorts, uint8(info.InvFlags)&0x02 != 0)
		return true
	case *xt.Unknown:
		b := []byte(*info)
		switch m.Name {
		case "multiport":
			return r.multiport(b, m.Rev)
		case "state":
			if len(b) < 4 {
				return false
			}
			// xt_state's bits are conntrack's, but for untracked.
			mask := binary.NativeEndian.Uint32(b)
			bits := uint16(mask & 0x1f)
			if mask&(1<<6) != 0 {
				bits |= 1 << 8
			}
			r.addTest(test{field: fieldXtCtState, length: 2, mask: binary.NativeEndian.AppendUint16(nil, bits),
				op: opCmp, cmp: expr.CmpOpNeq, data: []byte{0, 0}})
			return true
		case "iprange":
			return r.iprange(b, m.Rev, v6)
		case "hl":
			// struct ip6t_hl_info: mode (eq, ne, lt, gt), hop limit.
			if len(b) < 2 || b[0] > 3 {
				return false
			}
			op := [...]expr.CmpOp{expr.CmpOpEq, expr.CmpOpNeq, expr.CmpOpLt, expr.CmpOpGt}[b[0]]
			r.addTest(test{field: fieldHopLimit, length: 1, op: opCmp, cmp: op, data: []byte{b[1]}})
			return true
		case "icmp", "icmp6":
			// struct ipt_icmp / ip6t_icmp: type, code range, invflags.
			if len(b) < 4 || b[1] != 0 || b[2] != 0xff {
				return false // a code range: not followed
			}
			op := expr.CmpOpEq
			if b[3]&0x01 != 0 { // IPT_ICMP_INV, IP6T_ICMP_INV
				op = expr.CmpOpNeq
			}
			r.addTest(test{field: fieldICMPType, length: 1, op: opCmp, cmp: op, data: []byte{b[0]}})
			return true
		}
	}
	return false
}

// addTest adds a test built whole (not from registers).
func (r *rule) addTest(t test) {
	t.prepare()
	r.tests = append(r.tests, t)
}

// portTests adds xt tcp/udp's port ranges, unless they are the full range.
func (r *rule) portTests(src [2]uint16, invSrc bool, dst [2]uint16, invDst bool) {
	for _, p := range []struct {
		f      field
		lo, hi uint16
		inv    bool
	}{{fieldSport, src[0], src[1], invSrc}, {fieldDport, dst[0], dst[1], invDst}} {
		if p.lo == 0 && p.hi == 0xffff && !p.inv {
			continue
		}
		op := expr.CmpOpEq
		if p.inv {
			op = expr.CmpOpNeq
		}
		r.addTest(test{field: p.f, length: 2, op: opRange, cmp: op,
			data: binary.BigEndian.AppendUint16(nil, p.lo), to: binary.BigEndian.AppendUint16(nil, p.hi)})
	}
}

// multiport reads struct xt_multiport (revision 0: flags, count, ports[15])
// or xt_multiport_v1 (then pflags[15] marking ranges, and invert), ports
// in host order, and tests the source or destination port against them.
func (r *rule) multiport(b []byte, rev uint32) bool {
	const maxPorts = 15
	if len(b) < 2+2*maxPorts || rev > 1 || rev == 1 && len(b) < 2+3*maxPorts+1 {
		return false
	}
	flags, count := b[0], int(b[1])
	if count > maxPorts || flags > 1 { // 2: source or destination, not followed
		return false
	}
	port := func(i int) uint16 { return binary.NativeEndian.Uint16(b[2+2*i:]) }
	var ranges []keyRange
	invert := false
	for i := 0; i < count; i++ {
		lo, hi := port(i), port(i)
		if rev == 1 && b[2+2*maxPorts+i] != 0 && i+1 < count {
			i++
			hi = port(i)
		}
		ranges = append(ranges, keyRange{lo: binary.BigEndian.AppendUint16(nil, lo), hi: binary.BigEndian.AppendUint16(nil, hi)})
	}
	if rev == 1 {
		invert = b[2+3*maxPorts] != 0
	}
	slices.SortFunc(ranges, func(a, b keyRange) int { return bytes.Compare(a.lo, b.lo) })
	merged := ranges[:0]
	for _, kr := range ranges {
		if n := len(merged); n > 0 && bytes.Compare(kr.lo, merged[n-1].hi) <= 0 {
			if bytes.Compare(kr.hi, merged[n-1].hi) > 0 {
				merged[n-1].hi = kr.hi
			}
			continue
		}
		merged = append(merged, kr)
	}
	f := fieldSport
	if flags == 1 {
		f = fieldDport
	}
	set := &compiledSet{label: "{ multiport " + strconv.Itoa(count) + " ports }", keyLen: 2, ranges: merged}
	r.addTest(test{field: f, length: 2, op: opLookup, set: set, invert: invert})
	return true
}

// iprange reads struct xt_iprange_mtinfo (revision 1): source min and max,
// destination min and max (16 bytes each), then flags.
func (r *rule) iprange(b []byte, rev uint32, v6 bool) bool {
	const src, dst, srcInv, dstInv = 0x01, 0x02, 0x10, 0x20
	if rev != 1 || len(b) < 65 {
		return false
	}
	size, sf, df := 4, fieldSaddr4, fieldDaddr4
	if v6 {
		size, sf, df = 16, fieldSaddr6, fieldDaddr6
	}
	flags := b[64]
	for _, x := range []struct {
		on, inv uint8
		f       field
		at      int
	}{{src, srcInv, sf, 0}, {dst, dstInv, df, 32}} {
		if flags&x.on == 0 {
			continue
		}
		op := expr.CmpOpEq
		if flags&x.inv != 0 {
			op = expr.CmpOpNeq
		}
		r.addTest(test{field: x.f, length: uint32(size), op: opRange, cmp: op,
			data: bytes.Clone(b[x.at : x.at+size]), to: bytes.Clone(b[x.at+16 : x.at+16+size])})
	}
	return true
}

// match compiles an xtables match (iptables-nft's, and legacy tables').
func (cp *compiler) match(b *branch, e *expr.Match) {
	out := b.out
	switch info := e.Info.(type) {
	case *xt.AddrType:
		out.tests = append(out.tests, addrTypeTests(info.Source, info.InvertSource, info.Dest, info.InvertDest)...)
	case *xt.AddrTypeV1:
		out.tests = append(out.tests, addrTypeTests(info.Source, info.Flags&xtAddrTypeInvertSource != 0,
			info.Dest, info.Flags&xtAddrTypeInvertDest != 0)...)
	case *xt.ConntrackMtinfo1:
		out.addConntrack(&info.ConntrackMtinfoBase, uint16(info.StateMask))
	case *xt.ConntrackMtinfo2:
		out.addConntrack(&info.ConntrackMtinfoBase, info.StateMask)
	case *xt.ConntrackMtinfo3:
		out.addConntrack(&info.ConntrackMtinfoBase, info.StateMask)
	default:
		switch e.Name {
		case "comment":
		case "rt":
			// ip6tables -m rt: matches only a packet with an IPv6
			// routing header.
			out.tests = append(out.tests, test{field: fieldRoutingHdr})
		case "set":
			if why := cp.ipsetMatch(b, e); why != "" {
				b.notUnderstood(why)
			}
		case "mark", "connmark":
			if !out.xtMarkTest(e) {
				b.notUnderstood("xt match " + e.Name)
			}
		case "limit", "hashlimit", "recent", "connlimit":
			if !out.xtRateMatch(e) {
				b.notUnderstood("xt match " + e.Name)
			}
		default:
			if !out.xtMatch(e, b.v6) {
				b.notUnderstood("xt match " + e.Name)
			}
		}
	}
}
