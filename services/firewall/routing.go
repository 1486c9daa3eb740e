package firewall

import (
	"fmt"
	"net/netip"
	"strings"
)

// Routing is a namespace's policy routing: its rules ("ip rule", "ip -6
// rule") and the routes of every table. A packet the filter lets through
// still needs a route: the arriving one to this host, the listener's
// answer back to the peer. A null route for a class of peers ("ip rule add
// from 192.0.2.0/24 blackhole", "ip -6 route add prohibit fd00:3::/64")
// decides their reach as a drop rule would.
type Routing struct {
	Rules  []RouteRule
	Routes []TableRoute
}

// RuleAction is what a routing rule does with the lookups it matches.
type RuleAction uint8

// Rule actions (FR_ACT_*).
const (
	ActionLookup      RuleAction = 1
	ActionGoto        RuleAction = 2
	ActionNop         RuleAction = 3
	ActionBlackhole   RuleAction = 6
	ActionUnreachable RuleAction = 7
	ActionProhibit    RuleAction = 8
)

// RouteRule is a policy routing rule.
type RouteRule struct {
	V6       bool
	Priority uint32
	Action   RuleAction
	Table    uint32 // ActionLookup
	Goto     uint32 // ActionGoto: the priority to go on from
	From, To netip.Prefix
	Invert   bool // "not": the rule applies where its selectors do not match
	Iif, Oif string
	// FwMark and FwMask select by the packet's mark, when HasMark.
	FwMark, FwMask uint32
	HasMark        bool
	IPProto        uint8
	Sport, Dport   [2]uint16 // a range; 0-0: any
	// SuppressPrefixlen ignores routes found with a prefix this short or
	// shorter (-1: none): "suppress_prefixlength 0" skips default routes.
	SuppressPrefixlen int
	// Unknown names a selector the evaluator does not follow (uidrange,
	// l3mdev, tun_id, dscp, suppress_ifgroup).
	Unknown string
}

// Route types of a table route (RTN_*).
const (
	RouteUnicast     = 1
	RouteLocal       = 2
	RouteBroadcast   = 3
	RouteBlackhole   = 6
	RouteUnreachable = 7
	RouteProhibit    = 8
	RouteThrow       = 9
)

// TableRoute is a route of a routing table.
type TableRoute struct {
	Dst   netip.Prefix
	Table uint32
	Type  uint8
}

// String writes the rule as "ip rule" lists it.
func (r RouteRule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d:", r.Priority)
	if r.Invert {
		b.WriteString(" not")
	}
	from := "all"
	if r.From.IsValid() {
		from = r.From.String()
	}
	b.WriteString(" from " + from)
	if r.To.IsValid() {
		b.WriteString(" to " + r.To.String())
	}
	if r.Iif != "" {
		b.WriteString(" iif " + r.Iif)
	}
	if r.Oif != "" {
		b.WriteString(" oif " + r.Oif)
	}
	if r.HasMark {
		fmt.Fprintf(&b, " fwmark %#x/%#x", r.FwMark, r.FwMask)
	}
	if r.IPProto != 0 {
		fmt.Fprintf(&b, " ipproto %d", r.IPProto)
	}
	for _, p := range []struct {
		name string
		r    [2]uint16
	}{{"sport", r.Sport}, {"dport", r.Dport}} {
		if p.r != [2]uint16{} {
			fmt.Fprintf(&b, " %s %d-%d", p.name, p.r[0], p.r[1])
		}
	}
	switch r.Action {
	case ActionLookup:
		fmt.Fprintf(&b, " lookup %s", tableName(r.Table))
	case ActionGoto:
		fmt.Fprintf(&b, " goto %d", r.Goto)
	case ActionNop:
		b.WriteString(" nop")
	case ActionBlackhole:
		b.WriteString(" blackhole")
	case ActionUnreachable:
		b.WriteString(" unreachable")
	case ActionProhibit:
		b.WriteString(" prohibit")
	}
	return b.String()
}

func tableName(t uint32) string {
	switch t {
	case 255:
		return "local"
	case 254:
		return "main"
	case 253:
		return "default"
	}
	return fmt.Sprint(t)
}

// selective reports whether routing may treat sources, interfaces or
// local addresses differently: a rule beyond the defaults (local, main,
// default), or a null or throw route.
func (r *Routing) selective() bool {
	if r == nil {
		return false
	}
	defaults := map[[2]uint32]bool{{0, 255}: true, {32766, 254}: true, {32767, 253}: true}
	for _, x := range r.Rules {
		plain := !x.From.IsValid() && !x.To.IsValid() && x.Iif == "" && x.Oif == "" && !x.HasMark && x.IPProto == 0 &&
			x.Sport == [2]uint16{} && x.Dport == [2]uint16{} && !x.Invert && x.Unknown == "" && x.SuppressPrefixlen < 0
		if !plain || x.Action != ActionLookup || !defaults[[2]uint32{x.Priority, x.Table}] {
			return true
		}
	}
	for _, t := range r.Routes {
		switch {
		case t.Table < 253 || t.Table > 255:
			return true // a table only a rule could reach
		case t.Type == RouteBlackhole || t.Type == RouteUnreachable || t.Type == RouteProhibit || t.Type == RouteThrow:
			return true
		}
	}
	return false
}
