//go:build linux

package firewall

import (
	"strconv"
	"strings"

	"github.com/google/nftables/expr"
	"github.com/portwarden/portwarden/sockets"
)

// A map lookup is one lookup standing for a rule per element: "tcp dport
// vmap { 22 : accept, 80 : drop }" is "tcp dport 22 accept" and "tcp
// dport 80 drop"; "dnat to ip saddr map { A : B }" is "ip saddr A dnat to
// B". The compiler lowers a rule that looks up a map into those rules, in
// turn, so that the evaluator follows maps of every key — ports, states,
// addresses, interfaces, concatenations, intervals — as it follows plain
// rules, and a miss falls through as the kernel's does: no lowered rule
// matches. A catch-all element ("*") is the last rule, for what no other
// element holds.

// maxLowered bounds the rules one rule lowers into (maps within maps
// multiply): past it, the rule is undecided.
const maxLowered = 4096

// lower compiles the rest of the rule once for each element of map s,
// which the lookup l (the i-th expression) reads.
func (cp *compiler) lower(b *branch, l *expr.Lookup, s *compiledSet, i int, missing []Missing) {
	what := "map"
	if regIndex(l.DestRegister) == regIndex(0) {
		what = "vmap"
	}
	concat := b.concatenated(l.SourceRegister, s)
	mapText := what + " " + s.label
	if x, ok := b.regs[regIndex(l.SourceRegister)]; ok && x.unknown == "" && !concat {
		mapText = fieldName(x.field, b.out.transport()) + " " + mapText
	} else if t, ok := concatTest(b.regs, l.SourceRegister, s, false); ok {
		var names []string
		for _, p := range t.parts {
			names = append(names, fieldName(p.field, b.out.transport()))
		}
		mapText = strings.Join(names, " . ") + " " + mapText
	}
	if n := len(s.ranges) + len(cp.out); n > maxLowered || s.catchAll != nil && n+1 > maxLowered {
		b.notUnderstood("a " + what + " of " + strconv.Itoa(len(s.ranges)) + " elements, too many to follow")
		cp.run(b, i+1, missing)
		return
	}
	elements := make([]keyRange, 0, len(s.ranges)+1)
	elements = append(elements, s.ranges...)
	if s.catchAll != nil {
		elements = append(elements, *s.catchAll)
	}
	for k := range elements {
		e := &elements[k]
		nb := b.clone()
		nb.out.mapText = mapText
		// The element's own test: the key within its range, or for the
		// catch-all, in no other element.
		one := &compiledSet{label: s.label, concat: concat, keyLen: s.keyLen, ranges: []keyRange{*e}}
		invert := false
		if e.catchAll {
			one, invert = s, true
		}
		if concat {
			t, ok := concatTest(nb.regs, l.SourceRegister, one, invert)
			if !ok {
				nb.out.unknown = append(nb.out.unknown, "a "+what+" lookup of a concatenation "+s.label)
			} else {
				t.inMap = true
				nb.out.tests = append(nb.out.tests, t)
			}
		} else {
			n := len(nb.out.tests)
			nb.addTest(l.SourceRegister, test{op: opLookup, set: one, invert: invert})
			if len(nb.out.tests) > n {
				nb.out.tests[n].inMap = true
			}
		}
		switch {
		case what == "map":
			nb.loadData(l.DestRegister, e.data)
		case e.verdict == nil:
			nb.out.verdict = verdictUnknown
			nb.out.unknown = append(nb.out.unknown, "an element of "+s.label+" whose verdict could not be read")
		default:
			nb.out.setVerdict(e.verdict)
		}
		cp.run(nb, i+1, missing)
	}
}

// loadData loads a data map's value into the registers from dst on: its
// fields padded to 4 bytes each, one after the other, as nft lays out a
// concatenation. Each 4-byte register holds the value from its start.
func (b *branch) loadData(dst uint32, v []byte) {
	if v == nil {
		b.load(dst, reg{unknown: "a map element without data"})
		return
	}
	base := regIndex(dst)
	for off := 0; off < len(v); off += 4 {
		b.regs[base+uint32(off/4)] = reg{value: v[off:]}
	}
}

// transport names the transport protocol the rule's tests so far pick
// ("tcp"), for a port's name; "th" when none.
func (r *rule) transport() string {
	proto := "th"
	for _, t := range r.tests {
		if t.field == fieldL4Proto && t.op == opCmp && t.cmp == expr.CmpOpEq && len(t.data) == 1 {
			if name := sockets.Proto(t.data[0]).Name(); name != "" {
				proto = name
			}
		}
	}
	return proto
}
