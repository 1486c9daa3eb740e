//go:build linux

package firewall

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/portwarden/portwarden/sockets"
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
	t := rs.follow(sc, l)
	return t.decision(sc, l.Addr.WithZone("").Unmap().IsLoopback())
}

// follow follows every packet Decide weighs and tallies what happened.
func (rs *Ruleset) follow(sc *Scope, l Listener) *tally {
	bind := l.Addr.WithZone("").Unmap()
	versions := []bool{bind.Is6()}
	if bind.Is6() && bind.IsUnspecified() && !l.V6Only {
		versions = []bool{false, true}
	}
	var t tally
	ev := &evaluator{rs: rs} // one per decision: its packet and pieces are reused
	for _, v6 := range versions {
		if !bind.IsLoopback() {
			for _, iif := range rs.inputInterfaces(sc) {
				sources := sc.arriving(iif, v6)
				if rs.oneStandsForAll() {
					sources = sc.arriving(nil, v6) // one interface stands for all
				}
				if sources.Empty() {
					continue
				}
				for _, daddr := range rs.destinations(sc, bind, v6, iif) {
					f := flow{v6: v6, proto: l.Proto, iif: iif, daddr: daddr, dport: l.Port, local: true}
					ev.reset(keepsOn(sc, bind, daddr, l.Port, iif))
					ev.follow(f)
					accepted := ev.hook(HookInput, ev.hook(HookPrerouting, ev.hook(HookIngress, sources)))
					accepted = ev.followUp(sc, f, ev.bridged(accepted))
					t.remote(v6, accepted, ev.pieces)
				}
			}
		}
		daddr := bind
		if bind.IsUnspecified() || !bind.IsValid() {
			daddr = loopbackOf(v6)
		}
		// This host's own connection leaves through output, comes back in
		// on lo; so do its later packets and the listener's replies.
		lo := &Interface{Name: "lo", Index: 1, Loopback: true}
		ev.reset(nil)
		in := AddrSet{{daddr, daddr}}
		stages := []stage{stageNew, stageReply}
		if l.Proto == sockets.TCP {
			stages = []stage{stageNew, stageReply, stageOriginal, stageReplyData}
		}
		for _, st := range stages {
			f := flow{v6: v6, proto: l.Proto, oif: lo, daddr: daddr, dport: l.Port, local: true, fromHost: true, stage: st}
			ev.follow(f)
			in = ev.hook(HookOutput, in)
			f.oif, f.iif = nil, lo
			ev.follow(f)
			in = ev.hook(HookInput, ev.hook(HookPrerouting, in))
		}
		t.local(in, ev.pieces)
	}
	return &t
}

// DecideForwarded follows new connections to a container's listener
// published by DNAT on the host port hostPort of the namespace outer
// (the host's, or an engine's): prerouting there (the DNAT passes), its
// forward chains to the container's address to, then the container's own
// namespace's prerouting and input. inner may be nil: no ruleset.
func DecideForwarded(outer *Ruleset, outerScope *Scope, proto sockets.Proto, hostPort, to netip.AddrPort, inner *Ruleset, innerScope *Scope) Decision {
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
		if outer.oneStandsForAll() {
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
			ev.rs, ev.passDNAT = inner, false
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

// followUp follows, for the sources whose first packet got in, the
// packets a working connection needs next: for TCP the client's ACK, and
// the listener's reply (the SYN-ACK, the answering datagram) out through
// output and postrouting on the interface the source arrived by. Every one
// must pass: a ruleset that drops established packets or replies lets no
// connection through.
func (ev *evaluator) followUp(sc *Scope, f flow, in AddrSet) AddrSet {
	if in.Empty() {
		return in
	}
	untracked := ev.pkt.untracked
	in = ev.neighbours(sc, f, in)
	back := f
	back.iif, back.oif, back.untracked = nil, f.iif, untracked
	stages := []stage{stageReply}
	if f.proto == sockets.TCP {
		stages = []stage{stageReply, stageOriginal, stageReplyData}
	}
	for _, st := range stages {
		if st.reply() {
			back.stage = st
			ev.follow(back)
			in = ev.hook(HookEgress, ev.hook(HookPostrouting, ev.hook(HookOutput, in)))
			continue
		}
		f.stage = st
		ev.follow(f)
		in = ev.bridged(ev.hook(HookInput, ev.hook(HookPrerouting, ev.hook(HookIngress, in))))
	}
	return in
}

// neighbours follows IPv6 neighbour discovery for the sources on the
// link itself (the network of f.iif): their solicitation in, this host's
// advertisement out. A ruleset that drops it leaves them no IPv6 at all.
// Sources beyond a router discover the router, which is not followed.
func (ev *evaluator) neighbours(sc *Scope, f flow, in AddrSet) AddrSet {
	if !f.v6 || f.iif == nil {
		return in
	}
	var onLink AddrSet
	for _, i := range sc.Interfaces {
		// Where one interface stands for all, its sources are every link's.
		if i.Name != f.iif.Name && !ev.rs.oneStandsForAll() || i.Loopback {
			continue
		}
		for _, p := range i.Addrs {
			if p.Addr().Is6() && !p.Addr().IsLinkLocalUnicast() {
				onLink = onLink.Union(prefixSet(p.Masked()))
			}
		}
	}
	peers := in.Intersect(onLink)
	if peers.Empty() {
		return in
	}
	nd := f
	nd.stage = stageSolicit
	ev.follow(nd)
	ok := ev.hook(HookInput, ev.hook(HookPrerouting, ev.hook(HookIngress, peers)))
	nd.stage, nd.iif, nd.oif = stageAdvert, nil, f.iif
	ev.follow(nd)
	ok = ev.hook(HookEgress, ev.hook(HookPostrouting, ev.hook(HookOutput, ok)))
	return in.Minus(peers).Union(ok)
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

// decision names the widest class that gets through, and the rule that
// decided for the widest class the bind admits.
func (t *tally) decision(sc *Scope, loopbackBind bool) Decision {
	touches := func(sets [2]AddrSet, class [2]AddrSet) bool {
		return !sets[0].Intersect(class[0]).Empty() || !sets[1].Intersect(class[1]).Empty()
	}
	d := Decision{Host: t.host, HostUnknown: !t.host && t.hostUnknown}
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
			p, ok := through.Prefixes(maxSources)
			d.Sources = append(d.Sources, p...)
			d.SourcesCut = d.SourcesCut || !ok
		}
		if other := t.accepted[1-i].Intersect(sc.outside[1-i]); !loopbackBind && !through.Empty() && slices.Equal(through, outside) &&
			!other.Empty() && !slices.Equal(other, sc.outside[1-i]) {
			// The other IP version is partial, so Sources is listed: this
			// one gets through whole.
			d.Sources = append(d.Sources, netip.PrefixFrom(fullSet(i == 1)[0].lo, 0))
		}
		if unsure := t.unknown[i].Intersect(outside).Minus(t.accepted[i]); d.Reach != ReachUnknown && !unsure.Empty() {
			p, _ := unsure.Prefixes(maxSources)
			d.Unsure = append(d.Unsure, p...)
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
		case r == ReachPublic && p.verdict == verdictAccept && p.stage == stageNew:
			// the last explicit accept of the first packet: the rule that let it in
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
	if p.verdict == verdictAccept && len(p.limits) > 0 {
		// A first connection within the rate gets in; more may not.
		d.Why = "rate-limited: " + strings.Join(p.limits, ", ")
	}
}

func loopbackOf(v6 bool) netip.Addr {
	if v6 {
		return netip.IPv6Loopback()
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// inputInterfaces are the interfaces a packet from outside can arrive
// on: each non-loopback one when a rule tests the input interface, else
// one stands for all. A namespace with none receives nothing from outside.
func (rs *Ruleset) inputInterfaces(sc *Scope) []*Interface {
	var out []*Interface
	for i := range sc.Interfaces {
		if !sc.Interfaces[i].Loopback {
			out = append(out, &sc.Interfaces[i])
			if rs.oneStandsForAll() {
				break
			}
		}
	}
	return out
}

// oneStandsForAll reports whether one interface can stand for every
// one: no rule tests the input interface, nor the destination address
// (which depends on the interface a source arrives by).
func (rs *Ruleset) oneStandsForAll() bool { return !rs.testsIif && !rs.testsDaddr }

// destinations are the local addresses a packet to bind, arriving on
// iif, can be sent to: bind itself, or for a wildcard the addresses of
// iif (a source addresses the host where its traffic arrives) and the
// host's own addresses on loopback beyond 127.0.0.0/8 and ::1 (service
// addresses routed to it) — each when a rule tests the destination
// address, else one stands for all.
func (rs *Ruleset) destinations(sc *Scope, bind netip.Addr, v6 bool, iif *Interface) []netip.Addr {
	if bind.IsValid() && !bind.IsUnspecified() {
		return []netip.Addr{bind}
	}
	var out []netip.Addr
	for _, i := range sc.Interfaces {
		if i.Name != iif.Name && !i.Loopback && !rs.oneStandsForAll() {
			continue // where one interface stands for all, any address will do
		}
		for _, p := range i.Addrs {
			if a := p.Addr(); a.Is6() == v6 && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
				out = append(out, a)
				if !rs.testsDaddr {
					return out
				}
			}
		}
	}
	return out
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
