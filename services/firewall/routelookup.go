//go:build linux

package firewall

import (
	"fmt"
	"net/netip"
	"slices"
)

// routeFlow is one route lookup, its peer end varying over a set of
// addresses: an arriving packet's (from the peer to this host) or the
// listener's answer (from this host to the peer).
type routeFlow struct {
	v6    bool
	reply bool       // from this host to the peer
	local netip.Addr // this host's end; invalid: not chosen yet (a wildcard UDP socket's answer)
	iif   string     // the arriving interface; "lo" for an answer
	proto uint8
	port  uint16 // the listener's port
	// marked: the ruleset sets packet marks before the lookup, which
	// the evaluator follows per packet but not into routing.
	marked bool
}

// routeOutcome is what routing does with part of the peers.
type routeOutcome struct {
	peers AddrSet
	drop  string // the rule or route that drops them; "" for unknown
	why   string // unknown: what was not followed
}

// route follows the lookup for every peer of peers: those it routes, and
// what happens to the others.
func (r *Routing) route(f routeFlow, peers AddrSet) (AddrSet, []routeOutcome) {
	var out []routeOutcome
	ok := r.walk(f, r.Rules, 0, peers, &out, 0)
	return ok, out
}

// walk runs peers through rules from the i-th on.
func (r *Routing) walk(f routeFlow, rules []RouteRule, i int, peers AddrSet, out *[]routeOutcome, depth int) AddrSet {
	var routed AddrSet
	for ; i < len(rules) && !peers.Empty(); i++ {
		x := &rules[i]
		if x.V6 != f.v6 {
			continue
		}
		m, why := x.matches(f, peers)
		if m.Empty() {
			continue
		}
		if why != "" {
			*out = append(*out, routeOutcome{peers: m, why: "ip rule " + x.String() + ": " + why})
			peers = peers.Minus(m)
			continue
		}
		switch x.Action {
		case ActionLookup:
			found, dropped := r.lookup(f, x, m)
			routed = routed.Union(found)
			*out = append(*out, dropped...)
			peers = peers.Minus(found) // what the table has no route for goes on
			for _, d := range dropped {
				peers = peers.Minus(d.peers)
			}
		case ActionGoto:
			j := slices.IndexFunc(rules, func(y RouteRule) bool { return y.V6 == x.V6 && y.Priority >= x.Goto })
			if j <= i || depth > 32 {
				*out = append(*out, routeOutcome{peers: m, why: "ip rule " + x.String() + ": a goto backwards"})
			} else {
				routed = routed.Union(r.walk(f, rules, j, m, out, depth+1))
			}
			peers = peers.Minus(m)
		case ActionNop:
		case ActionBlackhole, ActionUnreachable, ActionProhibit:
			*out = append(*out, routeOutcome{peers: m, drop: "ip rule " + x.String()})
			peers = peers.Minus(m)
		default:
			*out = append(*out, routeOutcome{peers: m, why: "ip rule " + x.String() + ": an action portwarden does not follow"})
			peers = peers.Minus(m)
		}
	}
	if !peers.Empty() {
		*out = append(*out, routeOutcome{peers: peers, drop: "no route (no ip rule's table holds one)"})
	}
	return routed
}

// matches returns the peers whose lookup the rule's selectors select.
func (x *RouteRule) matches(f routeFlow, peers AddrSet) (AddrSet, string) {
	all := peers
	m := peers
	// The peer's end is a set; this host's, and everything else, one value.
	side := func(p netip.Prefix, peerSide bool) {
		if !p.IsValid() {
			return
		}
		if peerSide {
			m = m.Intersect(prefixSet(p.Masked()))
			return
		}
		local := f.local
		if !local.IsValid() {
			local = netip.IPv4Unspecified() // an answer not yet given its source
			if f.v6 {
				local = netip.IPv6Unspecified()
			}
		}
		if !p.Masked().Contains(local) {
			m = nil
		}
	}
	side(x.From, !f.reply)
	side(x.To, f.reply)
	// An answer's lookup has no output interface yet (the socket is bound
	// to none) and the socket's mark, 0; an arriving packet's mark is
	// what the ruleset set in prerouting, when it sets any.
	if x.Iif != "" && x.Iif != f.iif || x.Oif != "" || x.IPProto != 0 && x.IPProto != f.proto ||
		x.HasMark && !f.marked && x.FwMark&x.FwMask != 0 {
		m = nil
	}
	why := x.Unknown
	if x.HasMark && f.marked && !m.Empty() {
		why = "a test of the mark the ruleset sets"
	}
	// The listener's port is known; the peer's is any ephemeral one.
	local, peer := x.Dport, x.Sport
	if f.reply {
		local, peer = x.Sport, x.Dport
	}
	if local != [2]uint16{} && (f.port < local[0] || f.port > local[1]) {
		m = nil
	}
	if peer != [2]uint16{} {
		switch {
		case peer[1] < ephemeralLow:
			m = nil
		case peer[0] > ephemeralLow || peer[1] < ephemeralHigh:
			why = "a test of the peer's port that only some of its ports pass"
		}
	}
	if x.Invert {
		m = all.Minus(m)
	}
	return m, why
}

// lookup looks the peers up in the rule's table: those routed, and those
// a null route drops. Peers the table has no route for (or a throw
// route, or one a suppress_prefixlength ignores) go on to the next rule.
func (r *Routing) lookup(f routeFlow, x *RouteRule, peers AddrSet) (AddrSet, []routeOutcome) {
	var routes []TableRoute
	for _, t := range r.Routes {
		if t.Table == x.Table && t.Dst.Addr().Is6() == f.v6 {
			routes = append(routes, t)
		}
	}
	// Longest prefix first: each route takes what longer ones left.
	slices.SortStableFunc(routes, func(a, b TableRoute) int { return b.Dst.Bits() - a.Dst.Bits() })
	dest := func(t TableRoute) AddrSet {
		if f.reply {
			return prefixSet(t.Dst.Masked())
		}
		if t.Dst.Masked().Contains(f.local) {
			return peers // an arriving packet's destination is this host's
		}
		return nil
	}
	var routed, taken AddrSet
	var dropped []routeOutcome
	for _, t := range routes {
		got := peers.Intersect(dest(t)).Minus(taken)
		if got.Empty() {
			continue
		}
		taken = taken.Union(got)
		switch {
		case x.SuppressPrefixlen >= 0 && t.Dst.Bits() <= x.SuppressPrefixlen, t.Type == RouteThrow:
			// goes on to the next rule
		case t.Type == RouteBlackhole || t.Type == RouteUnreachable || t.Type == RouteProhibit:
			kind := map[uint8]string{RouteBlackhole: "blackhole", RouteUnreachable: "unreachable", RouteProhibit: "prohibit"}[t.Type]
			dropped = append(dropped, routeOutcome{peers: got, drop: fmt.Sprintf("ip route %s %s table %s", kind, t.Dst, tableName(t.Table))})
		case f.reply && (t.Type == RouteLocal || t.Type == RouteBroadcast):
			// A peer with this host's own or a broadcast address: the
			// kernel drops such a source on arrival as a martian.
			dropped = append(dropped, routeOutcome{peers: got, drop: "a martian source (an address of this host's own, or a broadcast one)"})
		case !f.reply && t.Type != RouteLocal:
			// An arriving packet routed on, not to this host.
			dropped = append(dropped, routeOutcome{peers: got, drop: fmt.Sprintf("ip rule %s: its table routes %s elsewhere", x, f.local)})
		default:
			routed = routed.Union(got)
		}
	}
	return routed, dropped
}
