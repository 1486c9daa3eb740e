//go:build linux

package firewall

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// What each kind of load puts in a register, and the statements whose
// targets the evaluator follows: one place per packet field.

// natTarget is where a DNAT sends a packet: to addr (a redirect: the
// address of the interface it arrived on) and port (0: unchanged).
type natTarget struct {
	addr     netip.Addr
	port     uint16
	redirect bool
}

// natOf reads a DNAT's target from the registers its immediates loaded:
// a single address and port only (a range or a map is not followed).
func natOf(regs map[uint32]reg, addrMin, addrMax, protoMin, protoMax uint32, redirect, v6 bool) *natTarget {
	t := &natTarget{redirect: redirect}
	if addrMin != 0 {
		v := regs[regIndex(addrMin)].value
		if n := map[bool]int{false: 4, true: 16}[v6]; len(v) > n {
			v = v[:n] // the address of a concatenation from a map: address . port
		}
		a, ok := netip.AddrFromSlice(v)
		if !ok || addrMax != 0 && addrMax != addrMin {
			return nil
		}
		t.addr = a.Unmap()
	} else if !redirect {
		return nil
	}
	if protoMin != 0 {
		v := regs[regIndex(protoMin)].value
		if len(v) < 2 || protoMax != 0 && protoMax != protoMin {
			return nil
		}
		t.port = binary.BigEndian.Uint16(v)
	}
	return t
}

// fibField is what a fib lookup yields for a new connection's first
// packet from a source that arrives where its replies leave (the
// evaluator's model of routing): the destination's type, the source's
// type, or the interface the route back to the source leaves by — the
// one it came in on, so a reverse-path filter passes it.
func fibField(e *expr.Fib) reg {
	switch {
	case e.ResultADDRTYPE && e.FlagDADDR && !e.FlagSADDR && !e.FlagMARK && !e.FlagOIF:
		return reg{field: fieldFibDaddrType, length: 4}
	case e.ResultADDRTYPE && e.FlagSADDR && !e.FlagDADDR && !e.FlagIIF && !e.FlagOIF:
		return reg{field: fieldFibSaddrType, length: 4}
	case e.ResultOIF && e.FlagSADDR && e.FlagIIF && !e.FlagDADDR && !e.FlagOIF:
		return reg{field: fieldFibSaddrOif, length: 4}
	}
	return reg{unknown: "fib lookup"}
}

// The xt addrtype match's invert flags (revision 1).
const (
	xtAddrTypeInvertSource = 0x1
	xtAddrTypeInvertDest   = 0x2
)

// addrTypeTests turns iptables' "-m addrtype --src-type/--dst-type" into
// tests of a bit mask of route types, as the match itself does.
func addrTypeTests(src uint16, invertSrc bool, dst uint16, invertDst bool) []test {
	var out []test
	for _, x := range []struct {
		field  field
		types  uint16
		invert bool
	}{{fieldSaddrTypes, src, invertSrc}, {fieldDaddrTypes, dst, invertDst}} {
		if x.types == 0 {
			continue
		}
		op := expr.CmpOpNeq // some type of the mask
		if x.invert {
			op = expr.CmpOpEq
		}
		out = append(out, test{field: x.field, length: 2, mask: binary.NativeEndian.AppendUint16(nil, x.types),
			op: opCmp, cmp: op, data: []byte{0, 0}})
	}
	return out
}

// addConntrack turns iptables' "-m conntrack --ctstate" into a test of
// the state bits; any other conntrack criterion stays undecided.
func (r *rule) addConntrack(m *xt.ConntrackMtinfoBase, states uint16) {
	if xt.ConntrackFlags(m.MatchFlags)&^(xt.ConntrackState|xt.ConntrackStateAlias) != 0 {
		r.unknown = append(r.unknown, "xt match conntrack")
		return
	}
	op := expr.CmpOpNeq
	if xt.ConntrackFlags(m.InvertFlags)&xt.ConntrackState != 0 {
		op = expr.CmpOpEq
	}
	r.tests = append(r.tests, test{field: fieldXtCtState, length: 2, mask: binary.NativeEndian.AppendUint16(nil, states),
		op: opCmp, cmp: op, data: []byte{0, 0}})
}

// metaFields are the meta keys whose values the evaluator knows for a
// new connection's first packet, and their lengths.
var metaFields = map[expr.MetaKey]reg{
	expr.MetaKeyL4PROTO:  {field: fieldL4Proto, length: 1},
	expr.MetaKeyNFPROTO:  {field: fieldNFProto, length: 1},
	expr.MetaKeyPROTOCOL: {field: fieldEtherType, length: 2},
	expr.MetaKeyIIFNAME:  {field: fieldIifname, length: 16},
	expr.MetaKeyOIFNAME:  {field: fieldOifname, length: 16},
	expr.MetaKeyIIF:      {field: fieldIif, length: 4},
	expr.MetaKeyOIF:      {field: fieldOif, length: 4},
	expr.MetaKeyIIFTYPE:  {field: fieldIifType, length: 2},
	expr.MetaKeyPKTTYPE:  {field: fieldPktType, length: 1},
	expr.MetaKeyMARK:     {field: fieldMark, length: 4},
}

func metaField(k expr.MetaKey) reg {
	if r, ok := metaFields[k]; ok {
		return r
	}
	return reg{unknown: "meta " + metaKeyName(k)}
}

func payloadField(p *expr.Payload, v6 bool) reg {
	within := func(f field, off, size uint32) (reg, bool) {
		if p.Offset >= off && p.Offset+p.Len <= off+size && p.Len > 0 {
			return reg{field: f, start: p.Offset - off, length: p.Len}, true
		}
		return reg{}, false
	}
	switch p.Base {
	case expr.PayloadBaseNetworkHeader:
		if v6 {
			if r, ok := within(fieldSaddr6, 8, 16); ok {
				return r
			}
			if r, ok := within(fieldDaddr6, 24, 16); ok {
				return r
			}
			if p.Offset == 7 && p.Len == 1 {
				return reg{field: fieldHopLimit, length: 1}
			}
			if p.Offset == 6 && p.Len == 1 {
				// ip6 nexthdr: a new connection's packets carry no
				// extension header, so it is the transport protocol.
				return reg{field: fieldL4Proto, length: 1}
			}
			break
		}
		if p.Offset == 9 && p.Len == 1 {
			return reg{field: fieldL4Proto, length: 1} // ip protocol
		}
		if r, ok := within(fieldSaddr4, 12, 4); ok {
			return r
		}
		if r, ok := within(fieldDaddr4, 16, 4); ok {
			return r
		}
	case expr.PayloadBaseTransportHeader:
		if p.Offset == 0 && p.Len == 1 {
			return reg{field: fieldICMPType, length: 1} // "icmp type": nft loads one byte only for ICMP
		}
		if r, ok := within(fieldSport, 0, 2); ok {
			return r
		}
		if r, ok := within(fieldDport, 2, 2); ok {
			return r
		}
		if p.Offset == 0 && p.Len == 4 {
			return reg{field: fieldPorts, length: 4} // iptables-nft's "--sport X --dport Y"
		}
		if p.Offset == 13 && p.Len == 1 {
			return reg{field: fieldTCPFlags, length: 1}
		}

	}
	return reg{unknown: "a payload match"}
}

// DNATTarget reads the xtables DNAT target's range (revisions 1 and 2, which
// the library decodes; revision 0's compat layout is left out).
func DNATTarget(info xt.InfoAny) (netip.AddrPort, bool) {
	var r *xt.NatRange
	switch info := info.(type) {
	case *xt.NatRange2:
		r = &info.NatRange
	case *xt.NatRange:
		r = info
	default:
		return netip.AddrPort{}, false
	}
	a, ok := netip.AddrFromSlice(r.MinIP)
	if !ok || xt.NatRangeFlags(r.Flags)&xt.NatRangeMapIPs == 0 {
		return netip.AddrPort{}, false
	}
	var port uint16
	if xt.NatRangeFlags(r.Flags)&xt.NatRangeProtoSpecified != 0 {
		port = r.MinPort
	}
	return netip.AddrPortFrom(a.Unmap(), port), true
}
