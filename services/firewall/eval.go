//go:build linux

package firewall

import (
	"net/netip"
	"slices"

	"github.com/google/nftables"
)

// maxDepth bounds jumps, as the kernel does (it refuses deeper rulesets).
const maxDepth = 16

// maxSteps bounds the rules one packet visits: the kernel refuses loops,
// but chains that jump into each other many times over could still cost
// more than a refresh can spend. Past it, the rest is undecided.
const maxSteps = 100000

// piece is what happened to part of the sources.
type piece struct {
	sources AddrSet
	verdict verdictKind // accept, drop, reject, dnat or unknown
	chain   *chain
	rule    *rule  // nil: the chain's policy
	why     string // unknown: what was not understood
	// route names the routing rule or route that stopped the sources,
	// for a piece routing decided (chain nil).
	route string
	// limits are the rate limits the packet passed on its way here.
	limits []string
	stage  stage // of the packet that met it
}

// evaluator follows one packet through a ruleset.
type evaluator struct {
	rs     *Ruleset
	pkt    *packet
	pieces []piece
	// passDNAT lets a DNAT pass as the translation the caller already
	// made (a published container port); otherwise DNAT takes the packet
	// away from the listener.
	passDNAT bool
	// keeps reports whether a DNAT to addr:port (an unset address: the
	// interface's own) still reaches the listener being decided.
	keeps  func(addr netip.Addr, port uint16) bool
	steps  int      // rules visited
	limits []string // rate limits passed so far
	// marks are the sources whose marks the ruleset set (marks.go)
	marks []markPart
	// hostBind is the listener's bind while this host's own packets are
	// followed (see rewritten).
	hostBind netip.Addr
}

// reset readies the evaluator for another flow, keeping its storage.
func (ev *evaluator) reset(keeps func(netip.Addr, uint16) bool) {
	ev.pieces, ev.limits, ev.steps, ev.keeps, ev.marks, ev.hostBind = ev.pieces[:0], nil, 0, keeps, nil, netip.Addr{}
}

// follow makes the evaluator's packet the one f describes.
func (ev *evaluator) follow(f flow) {
	if ev.pkt == nil {
		ev.pkt = newPacket(f)
		return
	}
	if ev.pkt.stage != f.stage {
		ev.newPacket() // the same packet goes on across lo; another starts unmarked
	}
	ev.pkt.fill(f)
}

// add records a piece, with the rate limits passed to get there.
func (ev *evaluator) add(p piece) {
	if len(ev.limits) > 0 {
		p.limits = append([]string(nil), ev.limits...)
	}
	p.stage = ev.pkt.stage
	ev.pieces = append(ev.pieces, p)
}

// passed notes rate limits a packet passed (within their rate).
func (ev *evaluator) passed(limits ...string) {
	for _, l := range limits {
		if !slices.Contains(ev.limits, l) {
			ev.limits = append(ev.limits, l)
		}
	}
}

// hook runs the sources through every base chain at h, in priority order:
// each must accept them. It returns the sources accepted by all.
func (ev *evaluator) hook(h Hook, in AddrSet) AddrSet {
	for _, c := range ev.rs.hooks[h] {
		if in.Empty() {
			break
		}
		if !c.appliesTo(ev.pkt.v6) || (c.Type == nftables.ChainTypeNAT && h != HookPrerouting && h != HookOutput) {
			continue
		}
		if c.Type == nftables.ChainTypeNAT && (h == HookPrerouting && ev.pkt.fromHost || ev.pkt.stage != stageNew || ev.pkt.untracked) {
			continue // NAT is decided once per connection: in output for this host's own, else in prerouting
		}
		if h == HookIngress && (ev.pkt.iif == nil || !c.attached(ev.pkt.iif.Name)) || h == HookEgress && (ev.pkt.oif == nil || !c.attached(ev.pkt.oif.Name)) {
			continue
		}
		start := len(ev.pieces)
		rest := ev.run(c, in, 0)
		if !rest.Empty() {
			v := verdictAccept
			if c.Drop {
				v = verdictDrop
			}
			ev.add(piece{sources: rest, verdict: v, chain: c})
		}
		in = nil
		for i := start; i < len(ev.pieces); i++ {
			p := &ev.pieces[i]
			if p.verdict == verdictAccept || (p.verdict == verdictDNAT && ev.passDNAT) {
				in = in.Union(p.sources)
			}
		}
	}
	return in
}

// run runs the sources in through chain c and returns those that come
// back out of it (a return, or the end of the chain); the others end in
// ev.pieces.
func (ev *evaluator) run(c *chain, in AddrSet, depth int) AddrSet {
	var back AddrSet
	// The rules that may match this port, in order: a merge of two lists.
	// A reply's destination port is the client's: every rule may match.
	anyPort, byPort, next := c.anyPort, c.byPort[ev.pkt.dport], 0
	reply := ev.pkt.stage.reply() || ev.pkt.stage == stageAdvert
	for reply && next < len(c.rules) || !reply && (len(anyPort) > 0 || len(byPort) > 0) {
		var r *rule
		switch {
		case reply:
			r, next = c.rules[next], next+1
		case len(byPort) == 0 || (len(anyPort) > 0 && anyPort[0] < byPort[0]):
			r, anyPort = c.rules[anyPort[0]], anyPort[1:]
		default:
			r, byPort = c.rules[byPort[0]], byPort[1:]
		}
		if in.Empty() {
			break
		}
		if ev.steps++; ev.steps > maxSteps {
			ev.add(piece{sources: in, verdict: verdictUnknown, chain: c, rule: r, why: "a ruleset too intricate to follow"})
			return nil
		}
		m, why := ev.match(r, in)
		switch {
		case m.Empty():
			continue
		case r.never != "":
			// A first connection cannot match it: under a rate limit's
			// threshold, or not on a list of sources seen before.
			if r.rate && why == "" {
				ev.passed("within " + r.never)
			}
			continue
		case why == "" && len(r.limited) > 0:
			ev.passed(r.limited...)
		}
		if r.notrack && why == "" {
			if !slices.Equal(m, in) {
				ev.add(piece{sources: m, verdict: verdictUnknown, chain: c, rule: r, why: "notrack for some sources only"})
				in = in.Minus(m)
				continue
			}
			ev.pkt.untrack()
		}
		if len(r.marks) > 0 {
			stmts, breaks := ev.markStatements(r.marks)
			switch {
			case breaks:
				continue // it reads the connection's mark, and the packet has no connection
			case why == "":
				ev.setMarks(m, stmts)
			default:
				ev.setMarks(m, []markStmt{{unknown: why}})
			}
		}
		if len(r.rewrites) > 0 {
			gone, w := ev.rewritten(r.rewrites)
			if why == "" {
				why = w
			}
			switch {
			case why != "":
				ev.add(piece{sources: m, verdict: verdictUnknown, chain: c, rule: r, why: why})
				in = in.Minus(m)
				continue
			case gone:
				ev.add(piece{sources: m, verdict: verdictDNAT, chain: c, rule: r})
				in = in.Minus(m)
				continue
			}
		}
		if r.verdict == verdictNone {
			continue // nothing decided
		}
		if why != "" {
			ev.add(piece{sources: m, verdict: verdictUnknown, chain: c, rule: r, why: why})
			in = in.Minus(m)
			continue
		}
		v, target := r.verdict, r.target
		if v == verdictDNAT && !ev.passDNAT && ev.keeps != nil && r.nat != nil && ev.keeps(r.nat.addr, r.nat.port) {
			v = verdictAccept // a DNAT onto the listener itself: it goes on there
		}
		switch v {
		case verdictNone:
			continue
		case verdictJump, verdictGoto:
			if depth >= maxDepth || target == nil {
				ev.add(piece{sources: m, verdict: verdictUnknown, chain: c, rule: r, why: "jumps too deep"})
				in = in.Minus(m)
				continue
			}
			returned := ev.run(target, m, depth+1)
			in = in.Minus(m)
			if v == verdictJump {
				in = in.Union(returned)
			} else {
				back = back.Union(returned)
			}
		case verdictReturn:
			back = back.Union(m)
			in = in.Minus(m)
		default:
			ev.add(piece{sources: m, verdict: v, chain: c, rule: r})
			in = in.Minus(m)
		}
	}
	return back.Union(in)
}

// match returns the part of in that r's tests pass, and what keeps the
// match undecided ("" when nothing does).
func (ev *evaluator) match(r *rule, in AddrSet) (AddrSet, string) {
	why, sources := "", false
	peer4, peer6, peerPort := ev.pkt.peer()
	// Tests of the packet first: most rules fail one, and cost no set
	// operation then.
	for i := range r.tests {
		t := &r.tests[i]
		var o outcome
		switch {
		case ev.pkt.noEntry(t.field):
			return nil, "" // the ct expression breaks: no entry to read
		case t.op == opConcat, t.field == peer4 || t.field == peer6, t.field == fieldMark || t.field == fieldCtMark:
			sources = true
			continue
		case t.field == fieldRoutingHdr:
			return nil, "" // a new connection's packets carry none
		case t.field == fieldPorts:
			if ev.pkt.stage.reply() {
				why = "a test of both ports of a reply"
				continue
			}
			if o = t.portsMatch(ev.pkt.dport); o == matchUndecided {
				why = "a source port test that only some client ports pass"
				continue
			}
		case t.field == peerPort:
			if o = t.ephemeral; ev.pkt.fromHost {
				o = t.local
			}
			if o == matchUndecided {
				why = "a test of the client's port that only some client ports pass"
				continue
			}
		case t.fast:
			o = t.matchFast(ev.pkt.ints[t.field], ev.pkt.lens[t.field])
		case ev.pkt.vals[t.field] == nil:
			why = "a test of a field this packet lacks"
			continue
		default:
			o = t.match(ev.pkt.vals[t.field])
		}
		switch o {
		case matchNone:
			return nil, ""
		case matchUndecided:
			why = "a test this packet does not settle"
		}
	}
	m := in
	for i := 0; sources && i < len(r.tests); i++ {
		t := &r.tests[i]
		switch {
		case t.op == opConcat:
			var w string
			if m, w = ev.matchConcat(t, m); w != "" {
				why = w
			} else if m.Empty() {
				return nil, ""
			}
		case t.field == fieldMark || t.field == fieldCtMark:
			var w string
			if m, w = ev.markPasses(t, m); w != "" {
				why = w
			} else if m.Empty() {
				return nil, ""
			}
		case t.field != peer4 && t.field != peer6:
		case (t.field == peer6) != ev.pkt.v6:
			why = "an address test of the other IP version"
		case !t.sourcesOK:
			why = "an address test of an unusual shape"
		default:
			if m = m.Intersect(t.sources); m.Empty() {
				return nil, ""
			}
		}
	}
	if why == "" && len(r.unknown) > 0 {
		why = r.unknown[0]
	}
	return m, why
}
