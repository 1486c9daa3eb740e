//go:build linux

package firewall

import (
	"cmp"
	"encoding/binary"
	"net/netip"
	"slices"
	"strconv"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// ipsetMatch compiles iptables' "-m set [!] --match-set NAME src,dst"
// into a test of the set's members, as the kernel's set match looks the
// packet up: by the set's kernel index, one direction per dimension. It
// says what it did not understand, or "".
//
// struct xt_set_info { u16 index; u8 dim; u8 flags; } opens every
// revision from 1; flags bit 0 inverts, bit i+1 makes dimension i the
// source. Revisions 3 and 4 add packet and byte counter tests and flags.
func (cp *compiler) ipsetMatch(b *branch, m *expr.Match) string {
	info, ok := m.Info.(*xt.Unknown)
	if !ok || len(*info) < 4 || m.Rev == 0 {
		return "xt match set of revision " + strconv.Itoa(int(m.Rev))
	}
	raw := []byte(*info)
	index, dims, flags := binary.NativeEndian.Uint16(raw), int(raw[2]), raw[3]
	counterOps := map[uint32][2]int{3: {8, 24}, 4: {16, 32}}[m.Rev]
	for _, at := range counterOps {
		if at > 0 && at < len(raw) && raw[at] != 0 {
			return "xt match set with a packet or byte counter test"
		}
	}
	const returnNoMatch = 1 << 7 // IPSET_FLAG_RETURN_NOMATCH
	if m.Rev >= 3 && len(raw) >= 44 && binary.NativeEndian.Uint32(raw[40:])&returnNoMatch != 0 {
		return "xt match set --return-nomatch"
	}
	set := cp.ipsets[index]
	if set == nil {
		return "xt match set: an ipset the kernel did not list (index " + strconv.Itoa(int(index)) + ")"
	}
	src := func(i int) bool { return flags&(2<<i) != 0 }
	t, why := ipsetTest(set, cp.ipsets, dims, src, b.v6, 0)
	if why != "" {
		return why
	}
	t.invert = flags&1 != 0
	if t.op != opConcat {
		t.prepare()
	}
	b.out.tests = append(b.out.tests, t)
	return ""
}

// ipsetTest builds the test of a packet's membership in set, for the
// types whose dimensions the evaluator has as fields.
func ipsetTest(set *IPSet, all map[uint16]*IPSet, dims int, src func(int) bool, v6 bool, depth int) (test, string) {
	what := "ipset " + set.Name + " of type " + set.Type
	size := 4
	if v6 {
		size = 16
	}
	addrField := func(src bool) field {
		switch {
		case src && v6:
			return fieldSaddr6
		case src:
			return fieldSaddr4
		case v6:
			return fieldDaddr6
		}
		return fieldDaddr4
	}
	portField := func(src bool) field {
		if src {
			return fieldSport
		}
		return fieldDport
	}
	// A set of the other IP version never matches this packet.
	other := set.Family == unix.NFPROTO_IPV4 && v6 || set.Family == unix.NFPROTO_IPV6 && !v6
	for _, m := range set.Members {
		if m.Other {
			return test{}, what + ": an entry with a dimension portwarden does not follow"
		}
	}
	switch set.Type {
	case "hash:ip", "hash:net", "bitmap:ip":
		var addrs AddrSet
		if !other {
			addrs = memberAddrs(set.Members)
		}
		return addrTest(set.Name, addrField(src(0)), size, addrs), ""
	case "bitmap:port":
		var ports []keyRange
		for _, m := range set.Members {
			if m.HasPort {
				p := binary.BigEndian.AppendUint16(nil, m.Port)
				ports = append(ports, keyRange{lo: p, hi: p})
			}
		}
		slices.SortFunc(ports, func(a, b keyRange) int { return cmp.Compare(string(a.lo), string(b.lo)) })
		return test{field: portField(src(0)), length: 2, op: opLookup, set: &compiledSet{label: "ipset " + set.Name, keyLen: 2, ranges: ports}}, ""
	case "hash:ip,port", "hash:net,port":
		if dims < 2 {
			return test{}, what + " matched on one dimension"
		}
		t := test{op: opConcat, set: &compiledSet{label: "ipset " + set.Name, concat: true, keyLen: size + 8}, parts: []concatPart{
			{field: addrField(src(0)), length: uint32(size)},
			{field: fieldL4Proto, length: 1, offset: uint32(size)},
			{field: portField(src(1)), length: 2, offset: uint32(size) + 4},
		}}
		for _, m := range set.Members {
			if m.NoMatch {
				return test{}, what + ": nomatch entries"
			}
			if other || !m.Addr.IsValid() || m.Addr.Addr().Is6() != v6 {
				continue
			}
			lo, hi := m.Addr.Masked().Addr(), lastOf(m.Addr)
			key := func(a []byte) []byte {
				k := make([]byte, size+8)
				copy(k, a)
				k[size] = m.Proto
				binary.BigEndian.PutUint16(k[size+4:], m.Port)
				return k
			}
			t.set.ranges = append(t.set.ranges, keyRange{lo: key(lo.AsSlice()), hi: key(hi.AsSlice())})
		}
		return t, ""
	case "list:set":
		// A packet is in the list when it is in one of its sets: the
		// union of their addresses, where all are sets of addresses.
		var addrs AddrSet
		for _, m := range set.Members {
			var member *IPSet
			for _, s := range all {
				if s.Name == m.Set {
					member = s
				}
			}
			if member == nil || depth > 2 {
				return test{}, what + ": member " + m.Set + " was not listed"
			}
			t, why := ipsetTest(member, all, dims, src, v6, depth+1)
			if why != "" {
				return test{}, why
			}
			if t.op != opLookup || t.field != addrField(src(0)) {
				return test{}, what + ": a member set that is not of addresses"
			}
			for _, r := range t.set.ranges {
				addrs = addrs.Union(AddrSet{{addrOf(r.lo), addrOf(r.hi)}})
			}
		}
		return addrTest(set.Name, addrField(src(0)), size, addrs), ""
	}
	return test{}, what
}

// memberAddrs is the addresses a hash:net (or hash:ip, bitmap:ip) set
// matches: the most specific entry holding an address decides, so a
// nomatch entry carves its network out of a wider one.
func memberAddrs(members []IPSetMember) AddrSet {
	sorted := slices.Clone(members)
	slices.SortStableFunc(sorted, func(a, b IPSetMember) int { return cmp.Compare(b.Addr.Bits(), a.Addr.Bits()) })
	var in, decided AddrSet
	for _, m := range sorted {
		if !m.Addr.IsValid() {
			continue
		}
		p := prefixSet(m.Addr.Masked()).Minus(decided)
		decided = decided.Union(p)
		if !m.NoMatch {
			in = in.Union(p)
		}
	}
	return in
}

// addrTest is a lookup of an address field in a set of addresses.
func addrTest(name string, f field, size int, addrs AddrSet) test {
	cs := &compiledSet{label: "ipset " + name, keyLen: size}
	for _, r := range addrs {
		if r.lo.BitLen() == 8*size {
			cs.ranges = append(cs.ranges, keyRange{lo: r.lo.AsSlice(), hi: r.hi.AsSlice()})
		}
	}
	return test{field: f, length: uint32(size), op: opLookup, set: cs}
}

func addrOf(b []byte) netip.Addr {
	a, _ := netip.AddrFromSlice(b)
	return a
}
