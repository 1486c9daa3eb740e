package firewall

import (
	"net/netip"
	"slices"
)

// addrRange is the addresses from lo to hi, both included, of one family.
type addrRange struct{ lo, hi netip.Addr }

// AddrSet is a set of addresses of one family, as sorted, disjoint,
// non-adjacent ranges. The evaluator follows a packet's source address as
// such a set: a rule that tests it splits the set in two.
type AddrSet []addrRange

// fullSet is every address of the family of a (4 or 6).
func fullSet(v6 bool) AddrSet {
	if v6 {
		return AddrSet{{netip.IPv6Unspecified(), netip.AddrFrom16([16]byte{0: 0xff, 1: 0xff, 2: 0xff, 3: 0xff, 4: 0xff, 5: 0xff, 6: 0xff, 7: 0xff, 8: 0xff, 9: 0xff, 10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff})}}
	}
	return AddrSet{{netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255})}}
}

// prefixSet is the addresses of p.
func prefixSet(p netip.Prefix) AddrSet {
	p = p.Masked()
	return AddrSet{{p.Addr(), lastOf(p)}}
}

// rangeSet is the addresses from lo to hi; empty when hi < lo or the
// families differ.
func rangeSet(lo, hi netip.Addr) AddrSet {
	if !lo.IsValid() || !hi.IsValid() || lo.Is4() != hi.Is4() || hi.Less(lo) {
		return nil
	}
	return AddrSet{{lo, hi}}
}

// lastOf is the highest address of p.
func lastOf(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := range b {
		keep := p.Bits() - 8*i
		switch {
		case keep <= 0:
			b[i] = 0xff
		case keep < 8:
			b[i] |= 0xff >> keep
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Empty reports whether s holds no address.
func (s AddrSet) Empty() bool { return len(s) == 0 }

// Contains reports whether a is in s.
func (s AddrSet) Contains(a netip.Addr) bool {
	i, _ := slices.BinarySearchFunc(s, a, func(r addrRange, a netip.Addr) int {
		if r.hi.Less(a) {
			return -1
		}
		if a.Less(r.lo) {
			return 1
		}
		return 0
	})
	return i < len(s) && !a.Less(s[i].lo) && !s[i].hi.Less(a)
}

// Union is the addresses in s or t.
func (s AddrSet) Union(t AddrSet) AddrSet {
	if len(t) == 0 {
		return s
	}
	if len(s) == 0 {
		return t
	}
	all := append(slices.Clone(s), t...)
	slices.SortFunc(all, func(a, b addrRange) int { return a.lo.Compare(b.lo) })
	out := AddrSet{all[0]}
	for _, r := range all[1:] {
		last := &out[len(out)-1]
		if next := last.hi.Next(); !next.IsValid() || !next.Less(r.lo) {
			if last.hi.Less(r.hi) {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

// Intersect is the addresses in both s and t.
func (s AddrSet) Intersect(t AddrSet) AddrSet {
	var out AddrSet
	i, j := 0, 0
	for i < len(s) && j < len(t) {
		lo, hi := s[i].lo, s[i].hi
		if lo.Less(t[j].lo) {
			lo = t[j].lo
		}
		if t[j].hi.Less(hi) {
			hi = t[j].hi
		}
		if !hi.Less(lo) && lo.Is4() == hi.Is4() {
			out = append(out, addrRange{lo, hi})
		}
		if s[i].hi.Less(t[j].hi) {
			i++
		} else {
			j++
		}
	}
	return out
}

// Minus is the addresses in s but not in t.
func (s AddrSet) Minus(t AddrSet) AddrSet {
	if len(s) == 0 || len(t) == 0 {
		return s
	}
	return s.Intersect(complementOf(t, s[0].lo.Is6()))
}

// complementOf is the addresses of the family not in t.
func complementOf(t AddrSet, v6 bool) AddrSet {
	full := fullSet(v6)[0]
	var out AddrSet
	next := full.lo
	for _, r := range t {
		if r.lo.Is6() != v6 {
			continue
		}
		if next.IsValid() && next.Less(r.lo) {
			out = append(out, addrRange{next, r.lo.Prev()})
		}
		next = r.hi.Next()
	}
	if next.IsValid() {
		out = append(out, addrRange{next, full.hi})
	}
	return out
}

// Prefixes writes s as the fewest prefixes that cover it exactly, at most
// max of them; ok is false when it takes more.
func (s AddrSet) Prefixes(max int) (out []netip.Prefix, ok bool) {
	for _, r := range s {
		lo := r.lo
		for {
			bits := lo.BitLen()
			// the widest prefix starting at lo that stays within r
			for bits > 0 {
				p := netip.PrefixFrom(lo, bits-1)
				if p.Masked().Addr() != lo || r.hi.Less(lastOf(p)) {
					break
				}
				bits--
			}
			p := netip.PrefixFrom(lo, bits)
			if len(out) == max {
				return out, false
			}
			out = append(out, p)
			last := lastOf(p)
			if last == r.hi {
				break
			}
			lo = last.Next()
		}
	}
	return out, true
}
