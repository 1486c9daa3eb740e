//go:build linux

package firewall

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
)

// maxIndexed is how many ports a rule may test and still be indexed by
// each of them.
const maxIndexed = 256

// index sorts the chain's rules by the destination ports they can match,
// so that a packet visits only the rules that may match its port.
func (c *chain) index() {
	c.byPort = map[uint16][]int32{}
	for i, r := range c.rules {
		ports, ok := r.dports()
		if !ok {
			c.anyPort = append(c.anyPort, int32(i))
			continue
		}
		for _, p := range ports {
			if l := c.byPort[p]; len(l) == 0 || l[len(l)-1] != int32(i) {
				c.byPort[p] = append(l, int32(i))
			}
		}
	}
}

// dports lists the destination ports a rule can match, when its first
// test of the destination port allows few: ok is false when any port may.
func (r *rule) dports() (ports []uint16, ok bool) {
	for i := range r.tests {
		t := &r.tests[i]
		if t.field != fieldDport || t.start != 0 || t.length != 2 || t.mask != nil {
			continue
		}
		switch {
		case t.op == opCmp && t.cmp == expr.CmpOpEq && len(t.data) == 2:
			return []uint16{binary.BigEndian.Uint16(t.data)}, true
		case t.op == opRange && t.cmp == expr.CmpOpEq && len(t.data) == 2 && len(t.to) == 2:
			return portRange(binary.BigEndian.Uint16(t.data), binary.BigEndian.Uint16(t.to), nil)
		case t.op == opLookup && !t.invert && t.set.keyLen == 2:
			for _, kr := range t.set.ranges {
				if ports, ok = portRange(binary.BigEndian.Uint16(kr.lo), binary.BigEndian.Uint16(kr.hi), ports); !ok {
					return nil, false
				}
			}
			return ports, true
		}
		return nil, false
	}
	return nil, false
}

// portRange appends the ports lo..hi to ports, unless that makes too many.
func portRange(lo, hi uint16, ports []uint16) ([]uint16, bool) {
	if hi < lo || len(ports)+int(hi-lo)+1 > maxIndexed {
		return nil, false
	}
	for p := int(lo); p <= int(hi); p++ {
		ports = append(ports, uint16(p))
	}
	return ports, true
}
