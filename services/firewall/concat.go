//go:build linux

package firewall

import (
	"bytes"
	"net/netip"
)

// concatPart is one field of a concatenated set's key: the register
// contents it is compared with, and where it sits in the key (each field
// padded to 4 bytes, as nft lays registers out).
type concatPart struct {
	field         field
	start, length uint32
	offset        uint32
}

// concatTest follows the consecutive registers from src that a lookup in
// a concatenated set reads, one field per register run, until they cover
// the set's key. ok is false when a register holds what the evaluator
// does not know, or the fields do not add up to the key.
func concatTest(regs map[uint32]reg, src uint32, s *compiledSet, invert bool) (test, bool) {
	t := test{op: opConcat, set: s, invert: invert}
	r, offset := regIndex(src), uint32(0)
	for offset < uint32(s.keyLen) {
		x, ok := regs[r]
		if !ok || x.unknown != "" || x.mask != nil || x.field == fieldNone || x.length == 0 {
			return test{}, false
		}
		t.parts = append(t.parts, concatPart{field: x.field, start: x.start, length: x.length, offset: offset})
		padded := (x.length + 3) &^ 3
		offset += padded
		r += padded / 4
	}
	return t, offset == uint32(s.keyLen) && s.keyLen > 0
}

// matchConcat returns the sources (of in) whose packets the lookup finds
// in the set: per element, the packet's fields must lie within its range
// for each field, and the source address within its own.
func (ev *evaluator) matchConcat(t *test, in AddrSet) (AddrSet, string) {
	var found AddrSet
	src := -1
	peer4, peer6, _ := ev.pkt.peer()
	for i, p := range t.parts {
		if p.field == peer4 || p.field == peer6 {
			if (p.field == peer6) != ev.pkt.v6 || p.start != 0 || (p.length != 4 && p.length != 16) {
				return nil, "a concatenated lookup of the other IP version's address"
			}
			src = i
		}
	}
	for _, r := range t.set.ranges {
		inside := true
		for i, p := range t.parts {
			if i == src {
				continue
			}
			v := ev.pkt.vals[p.field]
			if v == nil || uint32(len(v)) < p.start+p.length || uint32(len(r.lo)) < p.offset+p.length {
				return nil, "a concatenated lookup of a field this packet lacks"
			}
			x := v[p.start : p.start+p.length]
			if bytes.Compare(x, r.lo[p.offset:p.offset+p.length]) < 0 || bytes.Compare(x, r.hi[p.offset:p.offset+p.length]) > 0 {
				inside = false
				break
			}
		}
		if !inside {
			continue
		}
		if src < 0 {
			found = in
			break
		}
		p := t.parts[src]
		lo, ok1 := netip.AddrFromSlice(r.lo[p.offset : p.offset+p.length])
		hi, ok2 := netip.AddrFromSlice(r.hi[p.offset : p.offset+p.length])
		if ok1 && ok2 {
			found = found.Union(rangeSet(lo, hi))
		}
	}
	if t.invert {
		return in.Minus(found), ""
	}
	return in.Intersect(found), ""
}
