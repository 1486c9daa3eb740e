//go:build linux

package firewall

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// maxDepth bounds jumps, as the kernel does (it refuses deeper rulesets).
const maxDepth = 16

// packet is the first packet of a new flow, as the base chains see it,
// but for its source address, which the evaluator follows as a set.
type packet struct {
	v6   bool
	vals [fieldCount][]byte
}

// flow describes the packet to follow.
type flow struct {
	v6       bool
	proto    uint8
	iif, oif *Interface // oif: forwarded packets only
	daddr    netip.Addr
	dport    uint16
	local    bool // daddr is this namespace's own (fib daddr type local)
}

func newPacket(f flow) *packet {
	p := &packet{v6: f.v6}
	u32 := func(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
	p.vals[fieldL4Proto] = []byte{f.proto}
	if f.v6 {
		p.vals[fieldNFProto] = []byte{unix.NFPROTO_IPV6}
		p.vals[fieldEtherType] = []byte{0x86, 0xdd}
		p.vals[fieldDaddr6] = f.daddr.AsSlice()
	} else {
		p.vals[fieldNFProto] = []byte{unix.NFPROTO_IPV4}
		p.vals[fieldEtherType] = []byte{0x08, 0x00}
		p.vals[fieldDaddr4] = f.daddr.AsSlice()
	}
	ifname := func(i *Interface) []byte {
		b := make([]byte, 16)
		if i != nil {
			copy(b[:15], i.Name)
		}
		return b
	}
	index := func(i *Interface) []byte {
		if i == nil {
			return u32(0)
		}
		return u32(uint32(i.Index))
	}
	p.vals[fieldIifname], p.vals[fieldIif] = ifname(f.iif), index(f.iif)
	p.vals[fieldOifname], p.vals[fieldOif] = ifname(f.oif), index(f.oif)
	ifType := uint16(unix.ARPHRD_ETHER)
	if f.iif != nil && f.iif.Loopback {
		ifType = unix.ARPHRD_LOOPBACK
	}
	p.vals[fieldIifType] = binary.NativeEndian.AppendUint16(nil, ifType)
	p.vals[fieldPktType] = []byte{unix.PACKET_HOST}
	p.vals[fieldDport] = binary.BigEndian.AppendUint16(nil, f.dport)
	if f.proto == unix.IPPROTO_TCP {
		p.vals[fieldTCPFlags] = []byte{0x02} // SYN
	}
	p.vals[fieldCtState] = u32(0x08) // NF_CT_STATE_BIT(IP_CT_NEW)
	addrType := uint32(unix.RTN_UNICAST)
	if f.local {
		addrType = unix.RTN_LOCAL
	}
	p.vals[fieldFibDaddrType] = u32(addrType)
	return p
}

// piece is what happened to part of the sources.
type piece struct {
	sources AddrSet
	verdict verdictKind // accept, drop, reject, dnat or unknown
	chain   *chain
	rule    *rule  // nil: the chain's policy
	why     string // unknown: what was not understood
}

// evaluator follows one packet through a ruleset.
type evaluator struct {
	rs     *Ruleset
	pkt    *packet
	pieces []piece
	// passDNAT lets a DNAT pass as the translation the caller already
	// made (a published container port); otherwise DNAT takes the packet
	// away from the listener.
	passDNAT bool
}

// hook runs the sources through every base chain at h, in priority order:
// each must accept them. It returns the sources accepted by all.
func (ev *evaluator) hook(h Hook, in AddrSet) AddrSet {
	for _, c := range ev.rs.hooks[h] {
		if in.Empty() {
			break
		}
		if !c.appliesTo(ev.pkt.v6) || (c.Type == nftables.ChainTypeNAT && h != HookPrerouting && h != HookOutput) {
			continue
		}
		start := len(ev.pieces)
		rest := ev.run(c, in, 0)
		if !rest.Empty() {
			v := verdictAccept
			if c.Drop {
				v = verdictDrop
			}
			ev.pieces = append(ev.pieces, piece{sources: rest, verdict: v, chain: c})
		}
		in = nil
		for i := start; i < len(ev.pieces); i++ {
			p := &ev.pieces[i]
			if p.verdict == verdictAccept || (p.verdict == verdictDNAT && ev.passDNAT) {
				in = in.Union(p.sources)
			}
		}
	}
	return in
}

// run runs the sources in through chain c and returns those that come
// back out of it (a return, or the end of the chain); the others end in
// ev.pieces.
func (ev *evaluator) run(c *chain, in AddrSet, depth int) AddrSet {
	var back AddrSet
	for _, r := range c.rules {
		if in.Empty() {
			break
		}
		m, why := ev.match(r, in)
		if m.Empty() || r.verdict == verdictNone {
			continue // no match, or nothing decided
		}
		if why != "" {
			ev.pieces = append(ev.pieces, piece{sources: m, verdict: verdictUnknown, chain: c, rule: r, why: why})
			in = in.Minus(m)
			continue
		}
		v, target := r.verdict, r.target
		if v == verdictMap {
			v, target, why = ev.fromMap(c, r)
			if why != "" {
				ev.pieces = append(ev.pieces, piece{sources: m, verdict: verdictUnknown, chain: c, rule: r, why: why})
				in = in.Minus(m)
				continue
			}
		}
		switch v {
		case verdictNone:
			continue
		case verdictJump, verdictGoto:
			if depth >= maxDepth || target == nil {
				ev.pieces = append(ev.pieces, piece{sources: m, verdict: verdictUnknown, chain: c, rule: r, why: "jumps too deep"})
				in = in.Minus(m)
				continue
			}
			returned := ev.run(target, m, depth+1)
			in = in.Minus(m)
			if v == verdictJump {
				in = in.Union(returned)
			} else {
				back = back.Union(returned)
			}
		case verdictReturn:
			back = back.Union(m)
			in = in.Minus(m)
		default:
			ev.pieces = append(ev.pieces, piece{sources: m, verdict: v, chain: c, rule: r})
			in = in.Minus(m)
		}
	}
	return back.Union(in)
}

// match returns the part of in that r's tests pass, and what keeps the
// match undecided ("" when nothing does).
func (ev *evaluator) match(r *rule, in AddrSet) (AddrSet, string) {
	m, why := in, ""
	for i := range r.tests {
		t := &r.tests[i]
		switch t.field {
		case fieldSaddr4, fieldSaddr6:
			switch {
			case (t.field == fieldSaddr6) != ev.pkt.v6:
				why = "a source address test of the other IP version"
			case !t.sourcesOK:
				why = "a source address test of an unusual shape"
			default:
				m = m.Intersect(t.sources)
			}
		case fieldSport:
			switch t.sport {
			case matchNone:
				return nil, ""
			case matchUndecided:
				why = "a source port test that some client ports pass"
			}
		default:
			v := ev.pkt.vals[t.field]
			if v == nil {
				why = "a test of a field this packet lacks"
				continue
			}
			switch t.match(v) {
			case matchNone:
				return nil, ""
			case matchUndecided:
				why = "a comparison longer than its field"
			}
		}
		if m.Empty() {
			return nil, ""
		}
	}
	if why == "" && len(r.unknown) > 0 {
		why = r.unknown[0]
	}
	return m, why
}

// fromMap looks the packet up in a rule's verdict map.
func (ev *evaluator) fromMap(c *chain, r *rule) (verdictKind, *chain, string) {
	t := r.vmap
	v := ev.pkt.vals[t.field]
	if v == nil || t.field == fieldSaddr4 || t.field == fieldSaddr6 || t.field == fieldSport {
		return verdictUnknown, nil, "a verdict map on the source"
	}
	end := t.start + t.length
	if uint32(len(v)) < end {
		return verdictUnknown, nil, "a verdict map longer than its field"
	}
	e, ok := t.set.find(v[t.start:end])
	if !ok || e.verdict == nil {
		return verdictNone, nil, ""
	}
	switch e.verdict.Kind {
	case expr.VerdictAccept:
		return verdictAccept, nil, ""
	case expr.VerdictDrop:
		return verdictDrop, nil, ""
	case expr.VerdictReturn:
		return verdictReturn, nil, ""
	case expr.VerdictJump, expr.VerdictGoto:
		target := ev.rs.byName[tableKey(c.Family, c.Table)+" "+e.verdict.Chain]
		if e.verdict.Kind == expr.VerdictJump {
			return verdictJump, target, ""
		}
		return verdictGoto, target, ""
	case expr.VerdictContinue:
		return verdictNone, nil, ""
	}
	return verdictUnknown, nil, "verdict " + verdictName(e.verdict.Kind) + " in a map"
}
