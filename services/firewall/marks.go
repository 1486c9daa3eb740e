//go:build linux

package firewall

import (
	"encoding/binary"
	"net/netip"
)

// The evaluator follows marks per source: a rule that sets a mark for
// some sources ("iifname eth1 meta mark set 0x1") splits them from the
// rest, and a later test of the mark passes those whose mark it admits,
// as a test of the source address would. A packet's mark lives as long
// as the packet (across hooks, and across lo for this host's own); the
// connection's mark as long as the connection. Both start at 0, but on an
// interface with a tc ingress qdisc, whose filters may set the mark
// before netfilter sees the packet: a mark test there is undecided. A
// listener's SO_MARK, which its answers carry, is not read: 0 too.

// markPart is a part of the sources whose marks the ruleset changed.
type markPart struct {
	sources      AddrSet
	mark, ctMark uint32
	unknown      string // the marks are not known: why
}

// apply runs mark statements on the part's packet.
func (p *markPart) apply(stmts []markStmt) {
	for _, s := range stmts {
		if s.unknown != "" {
			p.unknown = s.unknown
			continue
		}
		var v uint32
		switch s.from {
		case fieldMark:
			v = p.mark
		case fieldCtMark:
			v = p.ctMark
		}
		v = v&s.mask ^ s.xor
		if s.ct {
			p.ctMark = v
		} else {
			p.mark = v
		}
	}
}

// markStatements are the mark statements of a rule as they act on the
// evaluator's packet: on one without a connection (untracked), "ct mark
// set" does nothing and a statement reading the connection's mark breaks
// the rule, as the kernel's ct expression does.
func (ev *evaluator) markStatements(stmts []markStmt) (out []markStmt, breaks bool) {
	if !ev.pkt.untracked {
		return stmts, false
	}
	for _, s := range stmts {
		switch {
		case s.from == fieldCtMark:
			return nil, true
		case !s.ct:
			out = append(out, s)
		}
	}
	return out, false
}

// setMarks applies mark statements to the sources m: those keep their
// own part, with the marks the statements leave.
func (ev *evaluator) setMarks(m AddrSet, stmts []markStmt) {
	rest := m
	var out []markPart
	for _, p := range ev.marks {
		in := p.sources.Intersect(m)
		if in.Empty() {
			out = append(out, p)
			continue
		}
		rest = rest.Minus(p.sources)
		if outside := p.sources.Minus(m); !outside.Empty() {
			q := p
			q.sources = outside
			out = append(out, q)
		}
		p.sources = in
		p.apply(stmts)
		out = append(out, p)
	}
	if !rest.Empty() {
		p := markPart{sources: rest}
		p.apply(stmts)
		out = append(out, p)
	}
	ev.marks = mergeParts(out)
}

// mergeParts joins parts with the same marks, so that the list stays as
// short as the distinct marks.
func mergeParts(parts []markPart) []markPart {
	var out []markPart
next:
	for _, p := range parts {
		for i := range out {
			if out[i].mark == p.mark && out[i].ctMark == p.ctMark && out[i].unknown == p.unknown {
				out[i].sources = out[i].sources.Union(p.sources)
				continue next
			}
		}
		out = append(out, p)
	}
	return out
}

// newPacket forgets the packet marks: the next packet of the connection
// starts with none, and keeps the connection's.
func (ev *evaluator) newPacket() {
	for i := range ev.marks {
		ev.marks[i].mark = 0
	}
	ev.marks = mergeParts(ev.marks)
}

// markPasses returns the sources of in whose mark (or connection mark)
// test t passes, and what keeps it undecided.
func (ev *evaluator) markPasses(t *test, in AddrSet) (AddrSet, string) {
	value := func(p markPart) []byte {
		v := p.mark
		if t.field == fieldCtMark {
			v = p.ctMark
		}
		return binary.NativeEndian.AppendUint32(nil, v)
	}
	var pass AddrSet
	why := ""
	rest := in
	for _, p := range ev.marks {
		part := p.sources.Intersect(in)
		if part.Empty() {
			continue
		}
		rest = rest.Minus(p.sources)
		switch {
		case p.unknown != "":
			pass, why = pass.Union(part), p.unknown
		case t.match(value(p)) == matchAll:
			pass = pass.Union(part)
		}
	}
	if !rest.Empty() {
		if i := ev.pkt.iif; i != nil && i.TCIngress && !ev.pkt.stage.reply() {
			// What the ruleset did not mark may carry a mark a tc filter set.
			return in, "the mark a tc filter on " + i.Name + " may set (ingress qdisc)"
		}
		if t.match(value(markPart{})) == matchAll {
			pass = pass.Union(rest)
		}
	}
	return pass, why
}

// rewritten follows a rule's header rewrites of the packet: gone when the
// packet no longer goes to the listener, or why it cannot be told.
func (ev *evaluator) rewritten(ws []rewrite) (gone bool, why string) {
	daddr := fieldDaddr4
	if ev.pkt.v6 {
		daddr = fieldDaddr6
	}
	addr, _ := netip.AddrFromSlice(ev.pkt.vals[daddr])
	port := ev.pkt.dport
	changed := false
	for _, w := range ws {
		switch {
		case w.unknown != "":
			return false, w.unknown
		case w.addr.IsValid() && w.addr != addr:
			addr, changed = w.addr, true
		case w.port != 0 && w.port != port:
			port, changed = w.port, true
		}
	}
	switch {
	case !changed:
		return false, ""
	case ev.passDNAT || ev.pkt.stage.reply():
		return false, "a rewrite of the destination on this path"
	case ev.pkt.fromHost:
		// A packet on lo keeps the route it was given on the way out: a
		// new address is seen only by the socket lookup, which a wildcard
		// bind of its family passes.
		b := ev.hostBind
		admits := b == addr || b.IsUnspecified() && (b.Is6() || addr.Is4())
		return port != ev.pkt.dport || !admits, ""
	case ev.keeps != nil && ev.keeps(addr, port) && port == ev.pkt.dport:
		return false, "a rewrite of the destination to another address of this listener"
	}
	return true, ""
}
