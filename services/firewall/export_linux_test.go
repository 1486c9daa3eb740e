package firewall

import (
	"fmt"
	"net/netip"
	"strings"
)

// DebugTrace lists the pieces of a decision (tests only).
func DebugTrace(rs *Ruleset, sc *Scope, l Listener) string {
	var b strings.Builder
	t := rs.follow(sc, l)
	for _, p := range append(t.pieces, t.hostPieces...) {
		r := ""
		if p.rule != nil {
			r = p.rule.text
		}
		fmt.Fprintf(&b, "   stage=%d verdict=%d chain=%s rule=%q route=%q src=%v why=%s\n", p.stage, p.verdict, p.chain.name(), r, p.route, debugPrefixes(p.sources), p.why)
	}
	return b.String()
}

// BlockedByNeighbourDiscovery reports whether the decision for l stops
// client (an IPv6 address) at neighbour discovery. Real neighbour caches
// cannot always be emptied — an entry a cached route still holds stays
// usable when flushed — so a test comparing with packets cannot trust
// what they say of it.
func BlockedByNeighbourDiscovery(rs *Ruleset, sc *Scope, l Listener, client netip.Addr) bool {
	t := rs.follow(sc, l)
	for _, p := range t.pieces {
		if (p.stage == stageSolicit || p.stage == stageAdvert) && p.verdict != verdictAccept && p.sources.Contains(client) {
			return true
		}
	}
	return false
}

// DebugRules lists every compiled rule's text (tests only).
func DebugRules(rs *Ruleset) string {
	var b strings.Builder
	for _, c := range rs.chains {
		for _, r := range c.rules {
			fmt.Fprintf(&b, "%s handle %d: %s\n", c.name(), r.handle, r.text)
		}
	}
	return b.String()
}

func debugPrefixes(s AddrSet) []netip.Prefix {
	p, _ := s.Prefixes(8)
	return p
}
