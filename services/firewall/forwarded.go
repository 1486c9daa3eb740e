//go:build linux

package firewall

import (
	"net/netip"

	"github.com/portwarden/portwarden/sockets"
)

// DecideForwarded follows new connections to a container's listener
// published by DNAT on the host port hostPort of the namespace outer
// (the host's, or an engine's): prerouting there (the DNAT passes), its
// forward chains to the container's address to, then the container's own
// namespace's prerouting and input. inner may be nil: no ruleset.
func DecideForwarded(outer *Ruleset, outerScope *Scope, proto sockets.Proto, hostPort, to netip.AddrPort, inner *Ruleset, innerScope *Scope) (d Decision) {
	defer recovered(&d)
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
		if outer.oneStandsForAll(outerScope) {
			sources = outerScope.arriving(nil, v6)
			if oif != nil {
				sources = sources.Minus(outerScope.arriving(oif, v6))
			}
		}
		for _, daddr := range outer.destinations(outerScope, hostPort.Addr().Unmap(), v6, iif) {
			ev := &evaluator{rs: outer, passDNAT: true,
				pkt: newPacket(flow{v6: v6, proto: proto, iif: iif, daddr: daddr, dport: hostPort.Port(), local: true})}
			in := ev.bridged(ev.hook(HookIngress, sources))
			start := len(ev.pieces)
			in = ev.hook(HookPrerouting, in)
			// Only what a DNAT translated goes on to the container; what
			// prerouting accepts untranslated is the host's own port.
			var translated AddrSet
			for _, p := range ev.pieces[start:] {
				if p.verdict == verdictDNAT {
					translated = translated.Union(p.sources)
				}
			}
			in = in.Intersect(translated)
			ev.follow(flow{v6: v6, proto: proto, iif: iif, oif: oif, daddr: to.Addr(), dport: to.Port(), dnatted: true})
			in = ev.hook(HookForward, in)
			// The container's namespace tracks the connection afresh: no
			// DNAT there.
			ev.rs, ev.passDNAT, ev.marks = inner, false, nil // marks do not cross namespaces
			ev.follow(flow{v6: v6, proto: proto, iif: iifInside, daddr: to.Addr(), dport: to.Port(), local: true})
			in = ev.hook(HookInput, ev.hook(HookPrerouting, ev.hook(HookIngress, in)))
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

// keepsOn says whether a DNAT, on a packet sent to daddr and arriving on
// iif, still reaches a listener on bind:port: a redirect or a DNAT to one
// of this host's addresses that the bind admits, on the same port.
func keepsOn(sc *Scope, bind, daddr netip.Addr, port uint16, iif *Interface) func(netip.Addr, uint16) bool {
	return func(addr netip.Addr, toPort uint16) bool {
		if toPort != 0 && toPort != port {
			return false
		}
		if !addr.IsValid() { // a redirect: to the arriving interface's primary address
			if iif == nil {
				return false
			}
			for _, p := range iif.Addrs {
				if p.Addr().Is4() == daddr.Is4() && !p.Addr().IsLinkLocalUnicast() {
					addr = p.Addr()
					break
				}
			}
		}
		if !addr.IsValid() || interfaceFor(sc, addr) == nil || !sc.local(addr) {
			return false
		}
		return bind.IsUnspecified() && (bind.Is4() == addr.Is4() || !bind.Is4()) || bind == addr
	}
}

// bridged stops, as undecided, the sources of a packet that arrives on a
// bridge when the ruleset has bridge-family chains at prerouting or
// input: they see it, and portwarden does not evaluate them.
func (ev *evaluator) bridged(in AddrSet) AddrSet {
	if in.Empty() || ev.pkt.iif == nil || !ev.pkt.iif.Bridge {
		return in
	}
	for _, c := range ev.rs.bridge {
		if c.Hook == HookPrerouting || c.Hook == HookInput {
			ev.add(piece{sources: in, verdict: verdictUnknown, chain: c,
				why: "a bridge-family chain, which sees what arrives through bridge " + ev.pkt.iif.Name + ", is not evaluated"})
			return nil
		}
	}
	return in
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
