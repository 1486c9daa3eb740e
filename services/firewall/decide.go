//go:build linux

package firewall

import (
	"net/netip"
	"slices"
)

// tally collects the pieces of every packet followed for one listener.
type tally struct {
	accepted, unknown [2]AddrSet // remote sources, by IP version
	host, hostUnknown bool
	pieces            []piece // the remote packets'
	hostPieces        []piece
}

func (t *tally) remote(v6 bool, accepted AddrSet, pieces []piece) {
	i := ipIndex(v6)
	t.accepted[i] = t.accepted[i].Union(accepted)
	for _, p := range pieces {
		if p.verdict == verdictUnknown {
			t.unknown[i] = t.unknown[i].Union(p.sources)
		}
	}
	t.pieces = append(t.pieces, pieces...)
}

func (t *tally) local(accepted AddrSet, pieces []piece) {
	t.host = t.host || !accepted.Empty()
	for _, p := range pieces {
		t.hostUnknown = t.hostUnknown || p.verdict == verdictUnknown
	}
	t.hostPieces = append(t.hostPieces, pieces...)
}

func ipIndex(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}

// Decide follows new connections to listener l through the ruleset, from
// every class of source, over every interface and local address that can
// make a difference.
func (rs *Ruleset) Decide(sc *Scope, l Listener) Decision {
	bind := l.Addr.WithZone("").Unmap()
	versions := []bool{bind.Is6()}
	if bind.Is6() && bind.IsUnspecified() && !l.V6Only {
		versions = []bool{false, true}
	}
	var t tally
	for _, v6 := range versions {
		if !bind.IsLoopback() {
			for _, iif := range rs.inputInterfaces(sc) {
				sources := sc.arriving(iif, v6)
				if !rs.testsIif {
					sources = sc.arriving(nil, v6) // one interface stands for all
				}
				if sources.Empty() {
					continue
				}
				for _, daddr := range rs.destinations(sc, bind, v6) {
					ev := &evaluator{rs: rs, pkt: newPacket(flow{v6: v6, proto: l.Proto, iif: iif, daddr: daddr, dport: l.Port, local: true})}
					accepted := ev.hook(HookInput, ev.hook(HookPrerouting, sources))
					t.remote(v6, accepted, ev.pieces)
				}
			}
		}
		daddr := bind
		if bind.IsUnspecified() || !bind.IsValid() {
			daddr = loopbackOf(v6)
		}
		// This host's own connection leaves through output, comes back in on lo.
		lo := &Interface{Name: "lo", Index: 1, Loopback: true}
		ev := &evaluator{rs: rs, pkt: newPacket(flow{v6: v6, proto: l.Proto, oif: lo, daddr: daddr, dport: l.Port, local: true, fromHost: true})}
		in := ev.hook(HookOutput, AddrSet{{daddr, daddr}})
		ev.pkt = newPacket(flow{v6: v6, proto: l.Proto, iif: lo, daddr: daddr, dport: l.Port, local: true, fromHost: true})
		t.local(ev.hook(HookInput, ev.hook(HookPrerouting, in)), ev.pieces)
	}
	return t.decision(sc, bind.IsLoopback())
}

// DecideForwarded follows new connections to a container's listener
// published by DNAT on the host port hostPort of the namespace outer
// (the host's, or an engine's): prerouting there (the DNAT passes), its
// forward chains to the container's address to, then the container's own
// namespace's prerouting and input. inner may be nil: no ruleset.
func DecideForwarded(outer *Ruleset, outerScope *Scope, proto uint8, hostPort, to netip.AddrPort, inner *Ruleset, innerScope *Scope) Decision {
	if inner == nil {
		inner = NewRuleset(nil, nil)
	}
	v6 := to.Addr().Is6()
	oif := interfaceFor(outerScope, to.Addr())
	iifInside := interfaceFor(innerScope, to.Addr())
	var t tally
	for _, iif := range outer.inputInterfaces(outerScope) {
		if oif != nil && iif.Name == oif.Name {
			continue // from the container's own network: not the outside
		}
		sources := outerScope.arriving(iif, v6)
		if !outer.testsIif {
			sources = outerScope.arriving(nil, v6)
			if oif != nil {
				sources = sources.Minus(outerScope.arriving(oif, v6))
			}
		}
		for _, daddr := range outer.destinations(outerScope, hostPort.Addr().Unmap(), v6) {
			ev := &evaluator{rs: outer, passDNAT: true,
				pkt: newPacket(flow{v6: v6, proto: proto, iif: iif, daddr: daddr, dport: hostPort.Port(), local: true})}
			in := ev.hook(HookPrerouting, sources)
			ev.pkt = newPacket(flow{v6: v6, proto: proto, iif: iif, oif: oif, daddr: to.Addr(), dport: to.Port(), dnatted: true})
			in = ev.hook(HookForward, in)
			ev.rs, ev.passDNAT = inner, false
			ev.pkt = newPacket(flow{v6: v6, proto: proto, iif: iifInside, daddr: to.Addr(), dport: to.Port(), local: true, dnatted: true})
			in = ev.hook(HookInput, ev.hook(HookPrerouting, in))
			t.remote(v6, in, ev.pieces)
		}
	}
	// This host reaches the container over the bridge, from its address there.
	if oif != nil && len(oif.Addrs) > 0 {
		src := oif.Addrs[0].Addr()
		ev := &evaluator{rs: inner, pkt: newPacket(flow{v6: v6, proto: proto, iif: iifInside, daddr: to.Addr(), dport: to.Port(), local: true})}
		t.local(ev.hook(HookInput, ev.hook(HookPrerouting, AddrSet{{src, src}})), ev.pieces)
	}
	return t.decision(outerScope, false)
}

// decision names the widest class that gets through, and the rule that
// decided for the widest class the bind admits.
func (t *tally) decision(sc *Scope, loopbackBind bool) Decision {
	touches := func(sets [2]AddrSet, class [2]AddrSet) bool {
		return !sets[0].Intersect(class[0]).Empty() || !sets[1].Intersect(class[1]).Empty()
	}
	d := Decision{Host: t.host}
	switch {
	case touches(t.accepted, sc.public):
		d.Reach = ReachPublic
	case touches(t.unknown, sc.public):
		d.Reach = ReachUnknown
	case touches(t.accepted, sc.internal):
		d.Reach = ReachInternal
	case touches(t.unknown, sc.internal):
		d.Reach = ReachUnknown
	case t.host:
		d.Reach = ReachHost
	case t.hostUnknown:
		d.Reach = ReachUnknown
	default:
		d.Reach = ReachNone
	}
	pieces, class := t.pieces, sc.public
	if loopbackBind {
		pieces = t.hostPieces
	}
	d.explain(pick(pieces, class, d.Reach))
	if d.Reach == ReachUnknown && d.Verdict != VerdictUnknown {
		d.explain(pick(append(pieces, t.hostPieces...), [2]AddrSet{}, ReachUnknown))
	}
	// Who gets through, when the firewall lets only part of the outside
	// that can arrive here through.
	for i := range 2 {
		outside := sc.outside[i]
		through := t.accepted[i].Intersect(outside)
		if !loopbackBind && !through.Empty() && !slices.Equal(through, outside) {
			p, _ := through.Prefixes(16)
			d.Sources = append(d.Sources, p...)
		}
	}
	return d
}

// pick finds the piece that tells the story of reach r for class: the
// rule accepting the class, or the one stopping it.
func pick(pieces []piece, class [2]AddrSet, r Reach) *piece {
	hits := func(p *piece) bool {
		if class[0] == nil && class[1] == nil {
			return true
		}
		c := class[ipIndex(len(p.sources) > 0 && p.sources[0].lo.Is6())]
		return !p.sources.Intersect(c).Empty()
	}
	var best *piece
	for i := range pieces {
		p := &pieces[i]
		if !hits(p) {
			continue
		}
		switch {
		case r == ReachUnknown && p.verdict == verdictUnknown:
			return p
		case r == ReachPublic && p.verdict == verdictAccept:
			// the last explicit accept: the rule that let it in
			if best == nil || best.rule == nil || p.rule != nil {
				best = p
			}
		case r != ReachPublic && r != ReachUnknown && p.verdict != verdictAccept:
			if best == nil {
				best = p
			}
		}
	}
	return best
}

func (d *Decision) explain(p *piece) {
	if p == nil {
		d.Verdict = VerdictAccept
		if d.Reach == ReachNone || d.Reach == ReachHost {
			d.Verdict = VerdictDrop
		}
		return
	}
	d.Verdict = map[verdictKind]string{verdictAccept: VerdictAccept, verdictDrop: VerdictDrop, verdictReject: VerdictReject,
		verdictDNAT: VerdictRedirect, verdictUnknown: VerdictUnknown}[p.verdict]
	d.Chain = p.chain.name()
	if p.rule != nil {
		d.Handle, d.Rule = p.rule.handle, p.rule.text
	}
	d.Why = p.why
}

func loopbackOf(v6 bool) netip.Addr {
	if v6 {
		return netip.IPv6Loopback()
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// inputInterfaces are the interfaces a packet from outside can arrive
// on: each non-loopback one when a rule tests the input interface, else
// one stands for all.
func (rs *Ruleset) inputInterfaces(sc *Scope) []*Interface {
	var out []*Interface
	for i := range sc.Interfaces {
		if !sc.Interfaces[i].Loopback {
			out = append(out, &sc.Interfaces[i])
			if !rs.testsIif {
				break
			}
		}
	}
	if len(out) == 0 {
		out = append(out, &Interface{Name: "eth0", Index: 2}) // a namespace without links: any will do
	}
	return out
}

// destinations are the local addresses a packet to bind can be sent to:
// bind itself, or for a wildcard each address when a rule tests the
// destination address, else one stands for all.
func (rs *Ruleset) destinations(sc *Scope, bind netip.Addr, v6 bool) []netip.Addr {
	if bind.IsValid() && !bind.IsUnspecified() {
		return []netip.Addr{bind}
	}
	var out []netip.Addr
	for _, i := range sc.Interfaces {
		for _, p := range i.Addrs {
			if a := p.Addr(); a.Is6() == v6 && !i.Loopback && !a.IsLinkLocalUnicast() {
				out = append(out, a)
				if !rs.testsDaddr {
					return out
				}
			}
		}
	}
	if len(out) == 0 {
		if v6 {
			return []netip.Addr{netip.MustParseAddr("2001:db8::1")}
		}
		return []netip.Addr{netip.AddrFrom4([4]byte{198, 51, 100, 1})}
	}
	return out
}

// interfaceFor is the interface whose network holds a.
func interfaceFor(sc *Scope, a netip.Addr) *Interface {
	if sc == nil {
		return nil
	}
	for i := range sc.Interfaces {
		for _, p := range sc.Interfaces[i].Addrs {
			if p.Contains(a) {
				return &sc.Interfaces[i]
			}
		}
	}
	return nil
}
