//go:build linux

package firewall

import (
	"net/netip"

	"github.com/portwarden/portwarden/sockets"
)

// routed follows, for the sources whose packets the filter let through,
// the route lookups a connection needs: the arriving packet's, to this
// host's address daddr, then the listener's answer back to the peer. It
// returns the sources routed both ways; the others end as pieces naming
// the rule or route that stops them.
func (ev *evaluator) routed(sc *Scope, f flow, bind netip.Addr, in AddrSet) AddrSet {
	if !sc.selective || in.Empty() || f.iif == nil {
		return in // the rules a namespace starts with route every source that arrives
	}
	arrive := routeFlow{v6: f.v6, local: f.daddr, iif: f.iif.Name, proto: uint8(f.proto), port: f.dport, marked: ev.rs.setsMarks}
	in = ev.routePieces(sc.routing.route(arrive, in))
	// A TCP answer leaves from the address the peer connected to; a UDP
	// socket bound to every address answers before a source is chosen,
	// so rules "from" an address do not see one.
	answer := routeFlow{v6: f.v6, reply: true, local: f.daddr, iif: "lo", proto: uint8(f.proto), port: f.dport}
	if f.proto == sockets.UDP && bind.IsUnspecified() {
		answer.local = netip.Addr{}
	}
	return ev.routePieces(sc.routing.route(answer, in))
}

// routePieces records what routing did with the sources it did not route.
func (ev *evaluator) routePieces(routed AddrSet, outcomes []routeOutcome) AddrSet {
	for _, o := range outcomes {
		p := piece{sources: o.peers, verdict: verdictDrop, route: o.drop}
		if o.drop == "" {
			p.verdict, p.route, p.why = verdictUnknown, "routing", o.why
		}
		ev.add(p)
	}
	return routed
}
