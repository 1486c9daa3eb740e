//go:build linux

package firewall

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"

	"github.com/google/nftables/expr"
)

// testOp is the kind of comparison a test makes.
type testOp uint8

const (
	opCmp    testOp = iota // cmp: ==, !=, <, <=, >, >=
	opRange                // range: within or outside two values
	opLookup               // lookup: in a set, or not
	opConcat               // lookup of several fields at once in a concatenated set
)

// outcome is what a test says of a packet: a test of the source address
// matches part of the sources, any other test all or none of them.
type outcome uint8

const (
	matchNone outcome = iota
	matchAll
	matchUndecided
)

// test is one condition of a rule, on the bytes start..start+length of a
// field, masked and xored first when the rule says so.
type test struct {
	field         field
	start, length uint32
	mask, xor     []byte
	op            testOp
	cmp           expr.CmpOp
	data, to      []byte
	set           *compiledSet
	invert        bool
	parts         []concatPart // opConcat: the fields, in key order
	// inMap: the test of a map element's key in a rule lowered from a map
	// lookup (lower.go); the rule is rendered with the lookup instead.
	inMap bool

	// sources holds the source addresses that pass a test of the source
	// address, computed once; sourcesOK is false when the test has a shape
	// the evaluator does not follow (a non-prefix mask, say).
	sources   AddrSet
	sourcesOK bool
	// ephemeral is the outcome of a test of a port for a client's port,
	// which is ephemeral (1024–65535): all, none, or undecided. A client's
	// port is the source, or in a reply the destination. local is the
	// same for this host's own connections, whose ports come from Linux's
	// local port range (32768–60999 unless tuned).
	ephemeral, local outcome

	// A comparison of at most 8 bytes runs on integers (fast): the bytes
	// packed big-endian, so that order is kept.
	fast                bool
	fmask, fxor         uint64
	fdata, fto          uint64
	dataLen, toLen, len uint32
}

// portsOutcomeFast answers portsOutcome without trying each port for the
// shapes rules have most: one port, a range, a set, unmasked.
func (t *test) portsOutcomeFast(lo, hi uint16) (outcome, bool) {
	if t.mask != nil || t.start != 0 || t.length != 2 {
		return 0, false
	}
	var ranges [][2]uint16
	invert := false
	switch {
	case t.op == opCmp && len(t.data) == 2:
		v := binary.BigEndian.Uint16(t.data)
		switch t.cmp {
		case expr.CmpOpEq, expr.CmpOpNeq:
			ranges, invert = [][2]uint16{{v, v}}, t.cmp == expr.CmpOpNeq
		case expr.CmpOpLte:
			ranges = [][2]uint16{{0, v}}
		case expr.CmpOpGte:
			ranges = [][2]uint16{{v, 0xffff}}
		case expr.CmpOpLt, expr.CmpOpGt:
			ranges, invert = [][2]uint16{{v, 0xffff}}, true // not >= v
			if t.cmp == expr.CmpOpGt {
				ranges = [][2]uint16{{0, v}}
			}
		default:
			return 0, false
		}
	case t.op == opRange && len(t.data) == 2 && len(t.to) == 2:
		ranges, invert = [][2]uint16{{binary.BigEndian.Uint16(t.data), binary.BigEndian.Uint16(t.to)}}, t.cmp == expr.CmpOpNeq
	case t.op == opLookup && t.set.keyLen == 2:
		for _, r := range t.set.ranges {
			ranges = append(ranges, [2]uint16{binary.BigEndian.Uint16(r.lo), binary.BigEndian.Uint16(r.hi)})
		}
		invert = t.invert
	default:
		return 0, false
	}
	covered := 0 // ports of lo..hi the ranges hold (they are disjoint)
	for _, r := range ranges {
		a, b := max(r[0], lo), min(r[1], hi)
		if a <= b {
			covered += int(b-a) + 1
		}
	}
	all, none := matchAll, matchNone
	if invert {
		all, none = none, all
	}
	switch covered {
	case 0:
		return none, true
	case int(hi-lo) + 1:
		return all, true
	}
	return matchUndecided, true
}

// ephemeral is the range of source ports clients connect from; local
// the range Linux gives this host's own connections by default.
const (
	ephemeralLow, ephemeralHigh = 1024, 65535
	localPortLow, localPortHigh = 32768, 60999
)

// portsOutcome is the test's outcome over every port lo..hi: all, none,
// or undecided.
func (t *test) portsOutcome(lo, hi int) outcome {
	if o, ok := t.portsOutcomeFast(uint16(lo), uint16(hi)); ok {
		return o
	}
	var pass, fail bool
	var v [2]byte
	for p := lo; p <= hi && !(pass && fail); p++ {
		binary.BigEndian.PutUint16(v[:], uint16(p))
		if t.match(v[:]) == matchAll {
			pass = true
		} else {
			fail = true
		}
	}
	switch {
	case pass && fail:
		return matchUndecided
	case pass:
		return matchAll
	}
	return matchNone
}

// prepare computes what can be known before any packet: the sources a
// source-address test passes and how a source-port test treats clients.
func (t *test) prepare() {
	if t.op != opLookup && t.length >= 1 && t.start+t.length <= 8 && len(t.data) >= 1 && uint32(len(t.data)) <= t.length && uint32(len(t.to)) <= t.length {
		t.fast, t.len = true, t.length
		t.fmask, t.fxor = ^uint64(0)>>(64-8*t.length), 0
		if t.mask != nil {
			t.fmask, t.fxor = pack(t.mask, t.length, 0xff), pack(t.xor, t.length, 0)
		}
		t.dataLen, t.fdata = uint32(len(t.data)), pack(t.data, uint32(len(t.data)), 0)
		t.toLen, t.fto = uint32(len(t.to)), pack(t.to, uint32(len(t.to)), 0)
	}
	switch t.field {
	case fieldSaddr4, fieldSaddr6, fieldDaddr4, fieldDaddr6:
		t.sources, t.sourcesOK = t.sourceSet(t.field == fieldSaddr6 || t.field == fieldDaddr6)
	case fieldSport, fieldDport:
		t.ephemeral = t.portsOutcome(ephemeralLow, ephemeralHigh)
		t.local = t.portsOutcome(localPortLow, localPortHigh)
	}
}

// sourceSet is the set of source addresses the test passes, for the
// shapes nft writes: a prefix (whole bytes loaded, or masked), a range,
// or a set of addresses, prefixes and ranges.
func (t *test) sourceSet(v6 bool) (AddrSet, bool) {
	size := uint32(4)
	if v6 {
		size = 16
	}
	if t.start != 0 || t.length > size {
		return nil, false
	}
	var s AddrSet
	switch t.op {
	case opCmp:
		bitsKept := int(t.length) * 8
		if t.mask != nil {
			ones, ok := prefixMask(t.mask)
			if !ok || (len(t.xor) > 0 && !allZero(t.xor)) {
				return nil, false
			}
			bitsKept = ones
		}
		if uint32(len(t.data)) != t.length || (t.cmp != expr.CmpOpEq && t.cmp != expr.CmpOpNeq) {
			return nil, false
		}
		full := make([]byte, size)
		copy(full, t.data)
		a, _ := netip.AddrFromSlice(full)
		s = prefixSet(netip.PrefixFrom(a, bitsKept))
		if t.cmp == expr.CmpOpNeq {
			s = complementOf(s, v6)
		}
	case opRange:
		lo, ok1 := netip.AddrFromSlice(t.data)
		hi, ok2 := netip.AddrFromSlice(t.to)
		if t.mask != nil || t.length != size || !ok1 || !ok2 {
			return nil, false
		}
		s = rangeSet(lo, hi)
		if t.cmp == expr.CmpOpNeq {
			s = complementOf(s, v6)
		}
	case opLookup:
		if t.mask != nil || t.length != size || t.set.keyLen != int(size) {
			return nil, false
		}
		for _, r := range t.set.ranges {
			lo, _ := netip.AddrFromSlice(r.lo)
			hi, _ := netip.AddrFromSlice(r.hi)
			s = s.Union(rangeSet(lo, hi))
		}
		if t.invert {
			s = complementOf(s, v6)
		}
	}
	return s, true
}

// pack reads the first n bytes of b as a big-endian number, pad standing
// for bytes b lacks.
func pack(b []byte, n uint32, pad byte) uint64 {
	var v uint64
	for i := range n {
		c := pad
		if int(i) < len(b) {
			c = b[i]
		}
		v = v<<8 | uint64(c)
	}
	return v
}

// matchFast is match on a field's first 8 bytes, packed (see pack), of
// which n are there.
func (t *test) matchFast(v uint64, n uint32) outcome {
	if n < t.start+t.len {
		return matchUndecided
	}
	x := (v<<(8*t.start))>>(64-8*t.len)&t.fmask ^ t.fxor
	var ok bool
	switch t.op {
	case opCmp:
		y := x >> (8 * (t.len - t.dataLen))
		switch t.cmp {
		case expr.CmpOpEq:
			ok = y == t.fdata
		case expr.CmpOpNeq:
			ok = y != t.fdata
		case expr.CmpOpLt:
			ok = y < t.fdata
		case expr.CmpOpLte:
			ok = y <= t.fdata
		case expr.CmpOpGt:
			ok = y > t.fdata
		case expr.CmpOpGte:
			ok = y >= t.fdata
		}
	case opRange:
		in := x>>(8*(t.len-t.dataLen)) >= t.fdata && (t.toLen == 0 || x>>(8*(t.len-t.toLen)) <= t.fto)
		ok = in == (t.cmp == expr.CmpOpEq)
	}
	if ok {
		return matchAll
	}
	return matchNone
}

// match tests a value of the field (the whole field; the test picks its
// bytes). It says matchUndecided when the value is too short.
func (t *test) match(v []byte) outcome {
	end := t.start + t.length
	if uint32(len(v)) < end {
		return matchUndecided
	}
	var buf [16]byte
	x := buf[:copy(buf[:], v[t.start:end])]
	if t.mask != nil {
		for i := range x {
			if i < len(t.mask) {
				x[i] &= t.mask[i]
			}
			if i < len(t.xor) {
				x[i] ^= t.xor[i]
			}
		}
	}
	var ok bool
	switch t.op {
	case opCmp:
		n := min(len(t.data), len(x))
		c := bytes.Compare(x[:n], t.data[:n])
		if len(t.data) > len(x) {
			return matchUndecided
		}
		ok = compare(c, t.cmp)
	case opRange:
		if len(t.data) > len(x) || len(t.to) > len(x) {
			return matchUndecided
		}
		in := bytes.Compare(x[:len(t.data)], t.data) >= 0 && bytes.Compare(x[:len(t.to)], t.to) <= 0
		ok = in == (t.cmp == expr.CmpOpEq)
	case opLookup:
		_, found := t.set.find(x)
		ok = found != t.invert
	}
	if ok {
		return matchAll
	}
	return matchNone
}

// portsMatch tests source and destination port loaded at once, as
// iptables-nft writes "--sport X --dport Y": the destination port decides
// a mismatch, and a source port no client uses decides too.
func (t *test) portsMatch(dport uint16) outcome {
	if t.op != opCmp || t.cmp != expr.CmpOpEq || t.mask != nil || len(t.data) != 4 {
		return matchUndecided
	}
	if binary.BigEndian.Uint16(t.data[2:]) != dport || binary.BigEndian.Uint16(t.data[:2]) < ephemeralLow {
		return matchNone
	}
	return matchUndecided
}

func compare(c int, op expr.CmpOp) bool {
	switch op {
	case expr.CmpOpEq:
		return c == 0
	case expr.CmpOpNeq:
		return c != 0
	case expr.CmpOpLt:
		return c < 0
	case expr.CmpOpLte:
		return c <= 0
	case expr.CmpOpGt:
		return c > 0
	case expr.CmpOpGte:
		return c >= 0
	}
	return false
}

// prefixMask reports whether mask is a run of ones then zeros, and how
// many ones.
func prefixMask(mask []byte) (int, bool) {
	ones, ended := 0, false
	for _, b := range mask {
		n := bits.LeadingZeros8(^b)
		if ended && b != 0 || n < 8 && b<<n != 0 {
			return 0, false
		}
		ones += n
		ended = ended || n < 8
	}
	return ones, true
}

func allZero(b []byte) bool { return !slices.ContainsFunc(b, func(x byte) bool { return x != 0 }) }
