//go:build linux

package firewall

import (
	"net/netip"
	"slices"
	"strings"
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
			p, ok := withMartians(through, sc.martians[i], sc.broadcasts[i]).Prefixes(maxSources)
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
	if p.chain == nil {
		d.Rule = p.route
	}
	if p.rule != nil {
		d.Handle, d.Rule = p.rule.handle, p.rule.text
	}
	d.Why = p.why
	if p.verdict == verdictAccept && len(p.limits) > 0 {
		// A first connection within the rate gets in; more may not.
		d.Why = "rate-limited: " + strings.Join(p.limits, ", ")
	}
}

// withMartians adds to the sources that get through the martian sources
// (this host's own addresses, broadcast ones) amid them, which no packet
// comes from: "198.51.100.16/28", not sixteen pieces of it. A subnet's
// broadcast address closes it: it joins the addresses below it.
func withMartians(through, martians, broadcasts AddrSet) AddrSet {
	for _, m := range martians {
		for a := m.lo; a.IsValid() && !m.hi.Less(a); a = a.Next() {
			if through.Contains(a.Prev()) && (through.Contains(a.Next()) || broadcasts.Contains(a)) {
				through = through.Union(AddrSet{{a, a}})
			}
		}
	}
	return through
}
