//go:build linux

package firewall

import (
	"fmt"
	"net/netip"

	"github.com/portwarden/portwarden/sockets"
)

// Decide follows new connections to listener l through the ruleset, from
// every class of source, over every interface and local address that can
// make a difference.
func (rs *Ruleset) Decide(sc *Scope, l Listener) (d Decision) {
	defer recovered(&d)
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
				if rs.oneStandsForAll(sc) {
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
					accepted = ev.routed(sc, f, bind, accepted)
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
		ev.hostBind = bind
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

// recovered turns a failure of the evaluator into an unknown decision
// that says so: one listener's answer is lost, never the snapshot.
func recovered(d *Decision) {
	if p := recover(); p != nil {
		*d = Decision{Reach: ReachUnknown, Verdict: VerdictUnknown, Why: fmt.Sprintf("portwarden failed to follow the ruleset (%v)", p)}
	}
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
		if i.Name != f.iif.Name && !ev.rs.oneStandsForAll(sc) || i.Loopback {
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
			if rs.oneStandsForAll(sc) {
				break
			}
		}
	}
	return out
}

// oneStandsForAll reports whether one interface can stand for every
// one: no rule tests the input interface, nor the destination address
// (which depends on the interface a source arrives by).
func (rs *Ruleset) oneStandsForAll(sc *Scope) bool {
	return !rs.testsIif && !rs.testsDaddr && !sc.selective
}

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
		if i.Name != iif.Name && !i.Loopback && !rs.oneStandsForAll(sc) {
			continue // where one interface stands for all, any address will do
		}
		for _, p := range i.Addrs {
			if a := p.Addr(); a.Is6() == v6 && !a.IsLoopback() && !a.IsLinkLocalUnicast() {
				out = append(out, a)
				if !rs.testsDaddr && !sc.selective {
					return out
				}
			}
		}
	}
	return out
}
