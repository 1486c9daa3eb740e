//go:build linux

package firewall

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables/expr"
)

// Statements that change the packet or its connection on the way, which
// later rules or hooks see: marks and header rewrites.

// markStmt sets the packet's mark ("meta mark set") or its connection's
// ("ct mark set") to (from & mask) ^ xor, from being the packet's mark,
// the connection's, or nothing (a constant: xor).
type markStmt struct {
	ct        bool  // sets the connection's mark
	from      field // fieldMark, fieldCtMark, or fieldNone for a constant
	mask, xor uint32
	unknown   string // a value the compiler does not follow
}

// setMark compiles "meta mark set …"; other meta keys a rule sets
// (priority, nftrace) change nothing a filter here tests.
func (b *branch) setMark(e *expr.Meta) {
	if e.Key == expr.MetaKeyMARK {
		b.out.marks = append(b.out.marks, b.markFrom(e.Register, false))
	}
}

// setCtMark compiles "ct mark set …"; other keys (helper, zone, label)
// are not followed and decide nothing here.
func (b *branch) setCtMark(e *expr.Ct) {
	if e.Key == expr.CtKeyMARK {
		b.out.marks = append(b.out.marks, b.markFrom(e.Register, true))
	}
}

// markFrom reads the value a mark statement takes from register src.
func (b *branch) markFrom(src uint32, ct bool) markStmt {
	x, ok := b.regs[regIndex(src)]
	m := markStmt{ct: ct, mask: ^uint32(0)}
	switch {
	case !ok:
		m.unknown = "a mark set from an empty register"
	case x.unknown != "":
		m.unknown = "a mark set from " + x.unknown
	case len(x.value) >= 4:
		m.mask, m.xor = 0, binary.NativeEndian.Uint32(x.value)
	case (x.field == fieldMark || x.field == fieldCtMark) && x.start == 0 && x.length == 4:
		m.from = x.field
		if x.mask != nil {
			if len(x.mask) < 4 || len(x.xor) < 4 {
				m.unknown = "a mark set through a bitwise operation"
				break
			}
			m.mask, m.xor = binary.NativeEndian.Uint32(x.mask), binary.NativeEndian.Uint32(x.xor)
		}
	default:
		m.unknown = "a mark set from " + fieldName(x.field, "th")
	}
	return m
}

// rewrite is a header rewrite of the packet's destination ("ip daddr set
// …", "tcp dport set …": stateless NAT) that sends it elsewhere, or a
// rewrite the evaluator cannot follow.
type rewrite struct {
	addr    netip.Addr // the new destination address; invalid: unchanged
	port    uint16     // the new destination port; 0: unchanged
	unknown string
}

// rewrite compiles a payload write. Only the destination's address and
// port decide where the packet goes; a rewrite of the source is not
// followed, and others (TTL, DSCP) change nothing a filter here tests.
func (b *branch) rewrite(e *expr.Payload) {
	x := payloadField(&expr.Payload{Base: e.Base, Offset: e.Offset, Len: e.Len}, b.v6)
	v, ok := b.regs[regIndex(e.SourceRegister)]
	what := ""
	switch x.field {
	case fieldDaddr4, fieldDaddr6:
		what = "destination address"
	case fieldDport:
		what = "destination port"
	case fieldSaddr4, fieldSaddr6, fieldSport:
		b.out.rewrites = append(b.out.rewrites, rewrite{unknown: "a rewrite of the packet's source (" + fieldName(x.field, "th") + " set)"})
		return
	default:
		return
	}
	w := rewrite{}
	switch {
	case !ok || v.unknown != "" || v.value == nil:
		src := "a value the evaluator does not follow"
		if ok && v.unknown != "" {
			src = v.unknown
		}
		w.unknown = "a rewrite of the " + what + " to " + src
	case x.start != 0 || uint32(len(v.value)) < x.length:
		w.unknown = "a rewrite of part of the " + what
	case x.field == fieldDport:
		w.port = binary.BigEndian.Uint16(v.value)
	default:
		a, ok := netip.AddrFromSlice(v.value[:x.length])
		if !ok || x.length != 4 && x.length != 16 {
			w.unknown = "a rewrite of part of the " + what
		}
		w.addr = a.Unmap()
	}
	b.out.rewrites = append(b.out.rewrites, w)
}
