//go:build linux

package firewall

import (
	"encoding/binary"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// iptables' marks: the MARK and CONNMARK targets set them, the mark and
// connmark matches test them, as nft's "meta mark set" and "meta mark"
// do (marks.go follows both).

// xtMarkTest compiles "-m mark --mark V/M" (struct xt_mark_mtinfo1 { u32
// mark, mask; u8 invert; }) or "-m connmark" (the same layout).
func (r *rule) xtMarkTest(m *expr.Match) bool {
	info, ok := m.Info.(*xt.Unknown)
	if !ok || m.Rev != 1 || len(*info) < 9 {
		return false
	}
	b := []byte(*info)
	f := fieldMark
	if m.Name == "connmark" {
		f = fieldCtMark
	}
	op := expr.CmpOpEq
	if b[8] != 0 {
		op = expr.CmpOpNeq
	}
	t := test{field: f, length: 4, mask: b[4:8], op: opCmp, cmp: op, data: b[0:4]}
	t.prepare()
	r.tests = append(r.tests, t)
	return true
}

// xtMarkTarget compiles the MARK target (struct xt_mark_tginfo2 { u32
// mark, mask; }: the mark becomes (mark & ^mask) ^ value) and CONNMARK
// (struct xt_connmark_tginfo1 { u32 ctmark, ctmask, nfmask; u8 mode; }
// and revision 2's shifts). A form that mixes both marks in one value is
// followed as unknown.
func xtMarkTarget(t *expr.Target) markStmt {
	info, ok := t.Info.(*xt.Unknown)
	var b []byte
	if ok {
		b = []byte(*info)
	}
	unknown := markStmt{unknown: "xt target " + t.Name + " of this form"}
	u32 := func(i int) uint32 { return binary.NativeEndian.Uint32(b[4*i:]) }
	switch {
	case t.Name == "MARK" && t.Rev == 2 && len(b) >= 8:
		return markStmt{from: fieldMark, mask: ^u32(1), xor: u32(0)}
	case t.Name != "CONNMARK" || t.Rev < 1 || t.Rev > 2 || len(b) < 13 || t.Rev == 2 && len(b) < 15:
		return unknown
	case t.Rev == 2 && b[13] != 0:
		return unknown // a shift of the mark
	}
	ctmark, ctmask, nfmask := u32(0), u32(1), u32(2)
	mode := b[12]
	if t.Rev == 2 {
		mode = b[14]
	}
	const set, save, restore = 0, 1, 2
	switch mode {
	case set:
		return markStmt{ct: true, from: fieldCtMark, mask: ^ctmask, xor: ctmark}
	case save:
		if ctmask == ^uint32(0) { // the connection's mark is the packet's, masked
			return markStmt{ct: true, from: fieldMark, mask: nfmask}
		}
	case restore:
		if nfmask == ^uint32(0) {
			return markStmt{from: fieldCtMark, mask: ctmask}
		}
	}
	return unknown
}
