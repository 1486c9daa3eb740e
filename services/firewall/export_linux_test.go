package firewall

import (
	"fmt"
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
		fmt.Fprintf(&b, "   stage=%d verdict=%d chain=%s rule=%q src=%v why=%s\n", p.stage, p.verdict, p.chain.name(), r, p.sources, p.why)
	}
	return b.String()
}
