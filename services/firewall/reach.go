package firewall

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"

	"github.com/portwarden/portwarden/sockets"
)

// Reach is the widest class of sources whose new connections (TCP SYN,
// first UDP datagram) get through to a listener.
type Reach string

// Reaches, from widest to narrowest; ReachUnknown when the ruleset could
// not be read or holds a rule the evaluator does not understand.
const (
	ReachPublic   Reach = "public"   // any address: the Internet, where routed
	ReachInternal Reach = "internal" // private ranges and the admin's internal networks only
	ReachHost     Reach = "host"     // this host only
	ReachNone     Reach = "none"     // nobody
	ReachUnknown  Reach = "unknown"
)

// maxSources bounds Decision.Sources.
const maxSources = 16

// Verdicts of a Decision.
const (
	VerdictAccept   = "accept"
	VerdictDrop     = "drop"
	VerdictReject   = "reject"
	VerdictRedirect = "redirect" // a DNAT sends the packet elsewhere
	VerdictUnknown  = "unknown"
)

// Decision is what the firewall does with new connections to a listener.
type Decision struct {
	Reach Reach
	// Verdict is what happens to a packet from the widest class the bind
	// admits (the public, or this host for a loopback bind); Chain, Handle
	// and Rule name the rule that decided it. Handle 0 with a Chain is the
	// chain's policy; no Chain: no rule at all.
	Verdict string
	Chain   string // "inet filter input"
	Handle  uint64
	Rule    string // as nft lists it: "tcp dport 9001 drop"
	// Sources are the sources that get through, when only part of the
	// outside does; at most maxSources prefixes, SourcesCut set when there
	// are more.
	Sources    []netip.Prefix
	SourcesCut bool
	// Unsure are sources whose fate the evaluator could not follow (see
	// Why), when Reach is decided all the same: the widest class is known.
	Unsure []netip.Prefix
	// Why says, when Reach is unknown, what the evaluator did not follow;
	// when the deciding accept is rate-limited, "rate-limited: …".
	Why string
	// Host is whether this host itself can connect; HostUnknown when
	// that could not be followed.
	Host, HostUnknown bool
}

// RoutingChain is Decision.Chain when routing decided: Rule then names
// the rule or route ("ip rule 32765: from 192.0.2.0/24 blackhole").
const RoutingChain = "routing"

// RuleRef names the deciding rule for an admin to find it: "inet filter
// input handle 7: tcp dport 9001 drop", or "inet filter input policy drop".
func (d *Decision) RuleRef() string {
	switch {
	case d.Chain == RoutingChain:
		return d.Rule
	case d.Chain == "":
		return ""
	case d.Handle == 0:
		return d.Chain + " policy " + d.Verdict
	}
	return d.Chain + " handle " + strconv.FormatUint(d.Handle, 10) + ": " + d.Rule
}

// Interface is a network interface of a namespace.
type Interface struct {
	Name     string
	Index    int
	Loopback bool
	Bridge   bool // a Linux bridge: bridge-family chains see what crosses it
	// TCIngress: traffic control classifies what the interface receives
	// (an ingress or clsact qdisc), before netfilter: its filters may set
	// a packet's mark.
	TCIngress bool
	Addrs     []netip.Prefix
	// Routes are the destinations routing tables send through the
	// interface (a default route is 0.0.0.0/0 or ::/0), each hop of a
	// multipath route included: a source's packets are taken to arrive
	// where the replies to it leave.
	Routes []Route
}

// Route is a destination a routing table sends through an interface.
type Route struct {
	Dst   netip.Prefix
	Table uint32 // 254 is main
}

// Listener is a listening socket as the firewall sees it.
type Listener struct {
	Proto  sockets.Proto // TCP or UDP
	Addr   netip.Addr    // its bind; unspecified: every address
	Port   uint16
	V6Only bool // an IPv6 wildcard that refuses IPv4
}

// Scope is what the evaluator needs of a namespace besides its ruleset:
// its interfaces, and which sources count as internal.
type Scope struct {
	Interfaces []Interface
	// class sets by IP version: [0] IPv4, [1] IPv6
	public, internal [2]AddrSet
	// via holds, for each interface, the sources that arrive on it (by
	// the route back to them); nil when no interface has routes, and any
	// source may arrive anywhere.
	via map[string][2]AddrSet
	// all is every source that can arrive, and outside those of them in
	// the public and internal classes
	all, outside [2]AddrSet
	// routing is the namespace's policy routing, when read (WithRouting)
	routing *Routing
	// martians are the sources no packet comes from (martianSources),
	// and of them the subnets' broadcast addresses
	martians, broadcasts [2]AddrSet
	// selective: routing may treat sources differently (Routing.selective)
	selective bool
}

// Private ranges: internal whatever the baseline says.
var privateRanges = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// Addresses no packet from outside comes from: loopback, link-local,
// multicast, "this network", IPv4-mapped.
var notPublic = []string{"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3",
	"::/127", "::ffff:0:0/96", "fe80::/10", "ff00::/8"}

// NewScope returns the scope of a namespace with interfaces ifs, where
// the admin's internal networks are internal (besides private ranges).
func NewScope(ifs []Interface, internal []netip.Prefix) *Scope {
	s := &Scope{Interfaces: ifs}
	add := func(to *[2]AddrSet, p netip.Prefix) {
		i := ipIndex(p.Addr().Is6())
		to[i] = to[i].Union(prefixSet(p))
	}
	var excluded [2]AddrSet
	for _, p := range privateRanges {
		add(&s.internal, netip.MustParsePrefix(p))
	}
	for _, p := range internal {
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		add(&s.internal, p)
	}
	for _, p := range notPublic {
		add(&excluded, netip.MustParsePrefix(p))
	}
	for i := range 2 {
		s.public[i] = fullSet(i == 1).Minus(s.internal[i]).Minus(excluded[i])
	}
	s.via = routedSources(ifs)
	// No packet from outside comes from this host's own addresses or a
	// subnet's broadcast address: the kernel drops such a source as a
	// martian.
	martians, broadcasts := martianSources(ifs)
	s.martians, s.broadcasts = martians, broadcasts
	for name, v := range s.via {
		s.via[name] = [2]AddrSet{v[0].Minus(martians[0]), v[1].Minus(martians[1])}
	}
	for i := range 2 {
		s.all[i] = fullSet(i == 1).Minus(martians[i])
		if s.via != nil {
			s.all[i] = nil
			for _, v := range s.via {
				s.all[i] = s.all[i].Union(v[i])
			}
		}
		s.outside[i] = s.public[i].Union(s.internal[i]).Intersect(s.all[i])
	}
	return s
}

// martianSources are the addresses of the interfaces, and the broadcast
// address of each IPv4 subnet (also returned alone), by IP version.
func martianSources(ifs []Interface) (out, broadcasts [2]AddrSet) {
	for _, i := range ifs {
		for _, p := range i.Addrs {
			v := ipIndex(p.Addr().Is6())
			out[v] = out[v].Union(AddrSet{{p.Addr(), p.Addr()}})
			if p.Addr().Is4() && p.Bits() < 31 {
				b := lastOf(p)
				out[v] = out[v].Union(AddrSet{{b, b}})
				broadcasts[v] = broadcasts[v].Union(AddrSet{{b, b}})
			}
		}
	}
	return out, broadcasts
}

// routedSources assigns each source address to the interface the
// longest matching route sends replies through, table by table: with
// policy routing a source may arrive on the interfaces of several tables.
func routedSources(ifs []Interface) map[string][2]AddrSet {
	type route struct {
		dst netip.Prefix
		via string
	}
	tables := map[uint32][]route{}
	for _, i := range ifs {
		for _, r := range i.Routes {
			tables[r.Table] = append(tables[r.Table], route{r.Dst.Masked(), i.Name})
		}
	}
	if len(tables) == 0 {
		return nil
	}
	via := map[string][2]AddrSet{}
	for _, routes := range tables {
		slices.SortStableFunc(routes, func(a, b route) int { return b.dst.Bits() - a.dst.Bits() })
		var covered [2]AddrSet
		for _, r := range routes {
			i := ipIndex(r.dst.Addr().Is6())
			set := prefixSet(r.dst).Minus(covered[i])
			covered[i] = covered[i].Union(prefixSet(r.dst))
			v := via[r.via]
			v[i] = v[i].Union(set)
			via[r.via] = v
		}
	}
	return via
}

// local reports whether a is one of the namespace's own addresses.
func (s *Scope) local(a netip.Addr) bool {
	for _, i := range s.Interfaces {
		for _, p := range i.Addrs {
			if p.Addr() == a {
				return true
			}
		}
	}
	return false
}

// arriving is the set of sources of IP version v6 that arrive on iif.
func (s *Scope) arriving(iif *Interface, v6 bool) AddrSet {
	i := ipIndex(v6)
	if s.via == nil || iif == nil {
		return s.all[i]
	}
	return s.via[iif.Name][i]
}

// WithRouting adds the namespace's policy routing to the scope: from then
// on a source that no route carries to this host, or no route carries the
// answer back to, is stopped as a drop rule would stop it. Without it,
// every source that arrives is taken to be routed both ways.
func (s *Scope) WithRouting(r *Routing) *Scope {
	if r != nil {
		// Rules in the order the kernel consults them.
		sorted := *r
		sorted.Rules = slices.Clone(r.Rules)
		slices.SortStableFunc(sorted.Rules, func(a, b RouteRule) int { return cmp.Compare(a.Priority, b.Priority) })
		r = &sorted
	}
	s.routing, s.selective = r, r.selective()
	return s
}

func ipIndex(v6 bool) int {
	if v6 {
		return 1
	}
	return 0
}
