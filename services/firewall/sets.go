//go:build linux

package firewall

import (
	"bytes"
	"fmt"
	"slices"
	"sort"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// compiledSet is a set's elements as ranges of keys, each with the
// verdict a verdict map gives it.
type compiledSet struct {
	label  string // "@name", or the elements of an anonymous set
	concat bool
	keyLen int
	ranges []keyRange // sorted by lo, disjoint
	// catchAll is a map's "*" element: what a key no range holds maps to.
	catchAll *keyRange
}

// keyRange is an element of a set, or of a map with its verdict or data.
type keyRange struct {
	lo, hi   []byte // both included
	verdict  *expr.Verdict
	data     []byte
	catchAll bool
}

// CompareElements orders the elements of an interval set by key, as the
// kernel's lookup reads them: an interval's end may share its key with the
// next one's start (adjacent intervals: 10.0.0.0/25 and 10.0.0.128/25, the
// end one past the first's last address), and then the end comes first.
func CompareElements(a, b nftables.SetElement) int {
	if c := bytes.Compare(a.Key, b.Key); c != 0 {
		return c
	}
	switch {
	case a.IntervalEnd == b.IntervalEnd:
		return 0
	case a.IntervalEnd:
		return -1
	}
	return 1
}

// compileSet turns a set's elements into sorted, disjoint key ranges,
// each with its verdict or data, and a map's catch-all element.
func compileSet(s *Set) *compiledSet {
	cs := &compiledSet{label: "@" + s.Name, concat: s.Concat}
	els := slices.Clone(s.Elements)
	slices.SortStableFunc(els, CompareElements)
	var open *keyRange
	for _, e := range els {
		if len(e.Key) == 0 {
			// The catch-all element ("*"): the only one without a key.
			if !e.IntervalEnd {
				cs.catchAll = &keyRange{verdict: e.VerdictData, data: e.Val, catchAll: true}
			}
			continue
		}
		if cs.keyLen == 0 {
			cs.keyLen = len(e.Key)
		}
		if len(e.Key) != cs.keyLen {
			continue // not a key of this set: the kernel keeps none such
		}
		switch {
		case s.Concat:
			// each element its own box: a range per field, Key to KeyEnd
			hi := e.Key
			if len(e.KeyEnd) == len(e.Key) {
				hi = e.KeyEnd
			}
			cs.ranges = append(cs.ranges, keyRange{lo: e.Key, hi: hi, verdict: e.VerdictData, data: e.Val})
		case !s.Interval:
			cs.ranges = append(cs.ranges, keyRange{lo: e.Key, hi: e.Key, verdict: e.VerdictData, data: e.Val})
		case e.IntervalEnd:
			if open != nil {
				open.hi = decrement(e.Key)
				cs.ranges = append(cs.ranges, *open)
				open = nil
			}
		default:
			if open != nil {
				// Adjacent intervals share no end: the kernel finds the
				// greatest element at or below a key, so a start ends the
				// interval before it.
				open.hi = decrement(e.Key)
				cs.ranges = append(cs.ranges, *open)
			}
			open = &keyRange{lo: e.Key, verdict: e.VerdictData, data: e.Val}
		}
	}
	if open != nil {
		open.hi = bytes.Repeat([]byte{0xff}, len(open.lo))
		cs.ranges = append(cs.ranges, *open)
	}
	if s.Name == "" || s.Name[0] == '_' || len(s.Name) > 2 && s.Name[:2] == "__" {
		cs.label = fmt.Sprintf("{ %d elements }", len(cs.ranges))
	}
	return cs
}

// find returns the range holding key.
func (s *compiledSet) find(key []byte) (*keyRange, bool) {
	i := sort.Search(len(s.ranges), func(i int) bool { return bytes.Compare(s.ranges[i].hi, key) >= 0 })
	if i < len(s.ranges) && bytes.Compare(s.ranges[i].lo, key) <= 0 {
		return &s.ranges[i], true
	}
	return nil, false
}

// decrement returns b minus one, as a big-endian number.
func decrement(b []byte) []byte {
	out := slices.Clone(b)
	for i := len(out) - 1; i >= 0; i-- {
		out[i]--
		if out[i] != 0xff {
			break
		}
	}
	return out
}
