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

// maxSteps bounds the rules one packet visits: the kernel refuses loops,
// but chains that jump into each other many times over could still cost
// more than a refresh can spend. Past it, the rest is undecided.
const maxSteps = 100000

// packet is the first packet of a new flow, as the base chains see it,
// but for its source address, which the evaluator follows as a set.
type packet struct {
	v6    bool
	dport uint16
	vals  [fieldCount][]byte
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
	p := &packet{v6: f.v6, dport: f.dport}
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
	xtState := uint16(1 << 3) // XT_CONNTRACK_STATE_BIT(IP_CT_NEW)
	if f.dnatted {
		xtState |= 1 << 7 // XT_CONNTRACK_STATE_DNAT
	}
	u16(fieldXtCtState, xtState)
	for f, v := range p.vals {
		p.lens[f] = uint32(len(v))
		p.ints[f] = pack(v, 8, 0)
	}
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
	steps    int // rules visited
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
	// The rules that may match this port, in order: a merge of two lists.
	anyPort, byPort := c.anyPort, c.byPort[ev.pkt.dport]
	for len(anyPort) > 0 || len(byPort) > 0 {
		var r *rule
		if len(byPort) == 0 || (len(anyPort) > 0 && anyPort[0] < byPort[0]) {
			r, anyPort = c.rules[anyPort[0]], anyPort[1:]
		} else {
			r, byPort = c.rules[byPort[0]], byPort[1:]
		}
		if in.Empty() {
			break
		}
		if ev.steps++; ev.steps > maxSteps {
			ev.pieces = append(ev.pieces, piece{sources: in, verdict: verdictUnknown, chain: c, rule: r, why: "a ruleset too intricate to follow"})
			return nil
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
	why, sources := "", false
	// Tests of the packet first: most rules fail one, and cost no set
	// operation then.
	for i := range r.tests {
		t := &r.tests[i]
		var o outcome
		switch {
		case t.op == opConcat, t.field == fieldSaddr4 || t.field == fieldSaddr6:
			sources = true
			continue
		case t.field == fieldRoutingHdr:
			return nil, "" // a new connection's first packet carries none
		case t.field == fieldPorts:
			if o = t.portsMatch(ev.pkt.dport); o == matchUndecided {
				why = "a source port test that only some client ports pass"
				continue
			}
		case t.field == fieldSport:
			if o = t.sport; o == matchUndecided {
				why = "a source port test that only some client ports pass"
				continue
			}
		case t.fast:
			o = t.matchFast(ev.pkt.ints[t.field], ev.pkt.lens[t.field])
		case ev.pkt.vals[t.field] == nil:
			why = "a test of a field this packet lacks"
			continue
		default:
			o = t.match(ev.pkt.vals[t.field])
		}
		switch o {
		case matchNone:
			return nil, ""
		case matchUndecided:
			why = "a test this packet does not settle"
		}
	}
	m := in
	for i := 0; sources && i < len(r.tests); i++ {
		t := &r.tests[i]
		switch {
		case t.op == opConcat:
			var w string
			if m, w = ev.matchConcat(t, m); w != "" {
				why = w
			} else if m.Empty() {
				return nil, ""
			}
		case t.field != fieldSaddr4 && t.field != fieldSaddr6:
		case (t.field == fieldSaddr6) != ev.pkt.v6:
			why = "a source address test of the other IP version"
		case !t.sourcesOK:
			why = "a source address test of an unusual shape"
		default:
			if m = m.Intersect(t.sources); m.Empty() {
				return nil, ""
			}
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
