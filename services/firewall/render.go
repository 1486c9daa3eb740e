//go:build linux

package firewall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"

	"github.com/google/nftables/expr"
	"github.com/portwarden/portwarden/sockets"
	"golang.org/x/sys/unix"
)

// renderRule writes a compiled rule about as nft lists it: "tcp dport
// 9001 drop". Dependencies nft hides (the protocol test before a port
// test) are left out; what was not understood is named in brackets.
func renderRule(c *chain, r *rule) string {
	var parts []string
	proto := "th"
	for i, t := range r.tests {
		if t.inMap {
			continue
		}
		if t.field == fieldL4Proto && t.op == opCmp && t.cmp == expr.CmpOpEq && len(t.data) == 1 {
			if name := sockets.Proto(t.data[0]).Name(); name != "" {
				proto = name
			}
			if i+1 < len(r.tests) && (r.tests[i+1].field == fieldDport || r.tests[i+1].field == fieldSport || r.tests[i+1].field == fieldTCPFlags) {
				continue // implied by "tcp dport"
			}
		}
		if t.field == fieldNFProto && i+1 < len(r.tests) && r.tests[i+1].field >= fieldSaddr4 && r.tests[i+1].field <= fieldDaddr6 {
			continue // implied by "ip saddr"
		}
		parts = append(parts, renderTest(&t, proto))
	}
	if r.mapText != "" {
		parts = append(parts, r.mapText)
	}
	for _, m := range r.marks {
		parts = append(parts, renderMark(m))
	}
	for _, w := range r.rewrites {
		parts = append(parts, renderRewrite(w))
	}
	seen := map[string]bool{}
	for _, u := range r.unknown {
		if !seen[u] {
			parts = append(parts, "["+u+"]")
			seen[u] = true
		}
	}
	switch r.verdict {
	case verdictAccept:
		parts = append(parts, "accept")
	case verdictDrop:
		parts = append(parts, "drop")
	case verdictReject:
		parts = append(parts, "reject")
	case verdictJump:
		parts = append(parts, "jump "+r.targetName)
	case verdictGoto:
		parts = append(parts, "goto "+r.targetName)
	case verdictReturn:
		parts = append(parts, "return")
	case verdictDNAT:
		parts = append(parts, "dnat")
	}
	return strings.Join(parts, " ")
}

func renderTest(t *test, proto string) string {
	if t.op == opConcat {
		var names []string
		for _, p := range t.parts {
			names = append(names, fieldName(p.field, "th"))
		}
		op := " "
		if t.invert {
			op = " != "
		}
		return strings.Join(names, " . ") + op + t.set.label
	}
	name := fieldName(t.field, proto)
	if t.field == fieldRoutingHdr {
		return "xt match rt"
	}
	if t.field == fieldPorts && len(t.data) == 4 {
		return proto + " sport " + formatValue(fieldSport, t.data[:2]) + " " + proto + " dport " + formatValue(fieldDport, t.data[2:])
	}
	if t.field == fieldSaddrTypes || t.field == fieldDaddrTypes {
		op := " "
		if t.cmp == expr.CmpOpEq {
			op = " != "
		}
		return name + op + routeTypes(binary.NativeEndian.Uint16(t.mask))
	}
	if t.field == fieldXtCtState {
		op := " "
		if t.cmp == expr.CmpOpEq {
			op = " != "
		}
		return name + op + ctStates(binary.NativeEndian.AppendUint32(nil, uint32(binary.NativeEndian.Uint16(t.mask))))
	}
	if t.field == fieldCtState && t.mask != nil && t.op == opCmp && t.cmp == expr.CmpOpNeq && allZero(t.data) {
		return name + " " + ctStates(t.mask) // "ct state established,related"
	}
	if t.field == fieldCtStatus && t.mask != nil && t.op == opCmp && t.cmp == expr.CmpOpNeq && allZero(t.data) {
		return name + " " + ctStatusBits(t.mask) // "ct status dnat"
	}
	if t.mask != nil && (t.field == fieldSaddr4 || t.field == fieldSaddr6 || t.field == fieldDaddr4 || t.field == fieldDaddr6) {
		if ones, ok := prefixMask(t.mask); ok && t.op == opCmp {
			size := 4
			if t.field == fieldSaddr6 || t.field == fieldDaddr6 {
				size = 16
			}
			full := make([]byte, size)
			copy(full, t.data)
			a, _ := netip.AddrFromSlice(full)
			return name + cmpOp(t.cmp) + netip.PrefixFrom(a, ones).String()
		}
	}
	if t.mask != nil {
		name += " & " + formatValue(t.field, t.mask)
	}
	switch t.op {
	case opRange:
		op := " "
		if t.cmp == expr.CmpOpNeq {
			op = " != "
		}
		return name + op + formatValue(t.field, t.data) + "-" + formatValue(t.field, t.to)
	case opLookup:
		op := " "
		if t.invert {
			op = " != "
		}
		label := t.set.label
		if strings.HasPrefix(label, "{") && len(t.set.ranges) <= 8 {
			var vals []string
			for _, r := range t.set.ranges {
				v := formatValue(t.field, r.lo)
				if !bytes.Equal(r.lo, r.hi) {
					v += "-" + formatValue(t.field, r.hi)
				}
				vals = append(vals, v)
			}
			label = "{ " + strings.Join(vals, ", ") + " }"
		}
		return name + op + label
	}
	if t.field == fieldSaddr4 || t.field == fieldSaddr6 || t.field == fieldDaddr4 || t.field == fieldDaddr6 {
		if size := map[bool]int{true: 16, false: 4}[t.field == fieldSaddr6 || t.field == fieldDaddr6]; len(t.data) < size {
			full := make([]byte, size)
			copy(full, t.data)
			a, _ := netip.AddrFromSlice(full)
			return name + cmpOp(t.cmp) + netip.PrefixFrom(a, 8*len(t.data)).String()
		}
	}
	return name + cmpOp(t.cmp) + formatValue(t.field, t.data)
}

// renderMark writes a mark statement: "meta mark set 0x1", "ct mark set
// meta mark".
func renderMark(m markStmt) string {
	to := "meta mark set "
	if m.ct {
		to = "ct mark set "
	}
	switch {
	case m.unknown != "":
		return to + "[" + m.unknown + "]"
	case m.from == fieldNone:
		return to + fmt.Sprintf("0x%x", m.xor)
	case m.mask == ^uint32(0) && m.xor == 0:
		return to + fieldName(m.from, "")
	}
	return to + fmt.Sprintf("%s & 0x%x ^ 0x%x", fieldName(m.from, ""), m.mask, m.xor)
}

// renderRewrite writes a header rewrite: "ip daddr set 10.0.0.1".
func renderRewrite(w rewrite) string {
	switch {
	case w.unknown != "":
		return "[" + w.unknown + "]"
	case w.addr.IsValid() && w.port != 0:
		return "daddr set " + w.addr.String() + " th dport set " + strconv.Itoa(int(w.port))
	case w.addr.IsValid():
		return "daddr set " + w.addr.String()
	}
	return "th dport set " + strconv.Itoa(int(w.port))
}

func cmpOp(op expr.CmpOp) string {
	return map[expr.CmpOp]string{expr.CmpOpEq: " ", expr.CmpOpNeq: " != ", expr.CmpOpLt: " < ",
		expr.CmpOpLte: " <= ", expr.CmpOpGt: " > ", expr.CmpOpGte: " >= "}[op]
}

func fieldName(f field, proto string) string {
	switch f {
	case fieldSport, fieldDport:
		return proto + map[bool]string{true: " sport", false: " dport"}[f == fieldSport]
	}
	return [fieldCount]string{fieldNone: "?", fieldL4Proto: "meta l4proto", fieldNFProto: "meta nfproto", fieldEtherType: "meta protocol",
		fieldIifname: "iifname", fieldOifname: "oifname", fieldIif: "iif", fieldOif: "oif", fieldIifType: "iiftype",
		fieldPktType: "pkttype", fieldSaddr4: "ip saddr", fieldDaddr4: "ip daddr", fieldSaddr6: "ip6 saddr",
		fieldDaddr6: "ip6 daddr", fieldTCPFlags: "tcp flags", fieldCtState: "ct state",
		fieldFibDaddrType: "fib daddr type", fieldSaddrTypes: "addrtype src-type", fieldDaddrTypes: "addrtype dst-type", fieldXtCtState: "conntrack ctstate", fieldPorts: "th sport . th dport", fieldRoutingHdr: "rt",
		fieldCtStatus: "ct status", fieldCtDir: "ct direction", fieldFibSaddrOif: "fib saddr . iif oif", fieldFibSaddrType: "fib saddr type", fieldICMPType: "icmp type", fieldHopLimit: "ip6 hoplimit",
		fieldMark: "meta mark", fieldCtMark: "ct mark"}[f]
}

// formatValue writes a field's value as nft would.
func formatValue(f field, b []byte) string {
	switch f {
	case fieldIifname, fieldOifname:
		s := string(bytes.TrimRight(b, "\x00"))
		if len(b) < 16 && !bytes.Contains(b, []byte{0}) {
			s += "*"
		}
		return strconv.Quote(s)
	case fieldL4Proto:
		if len(b) == 1 && sockets.Proto(b[0]).Name() != "" {
			return sockets.Proto(b[0]).Name()
		}
	case fieldNFProto:
		if len(b) == 1 {
			switch b[0] {
			case unix.NFPROTO_IPV4:
				return "ipv4"
			case unix.NFPROTO_IPV6:
				return "ipv6"
			}
		}
	case fieldSaddr4, fieldDaddr4, fieldSaddr6, fieldDaddr6:
		if a, ok := netip.AddrFromSlice(b); ok {
			return a.String()
		}
	case fieldSport, fieldDport:
		if len(b) == 2 {
			return strconv.Itoa(int(binary.BigEndian.Uint16(b)))
		}
	case fieldCtState:
		if len(b) == 4 {
			return ctStates(b)
		}
	case fieldFibDaddrType:
		if len(b) == 4 {
			if name := map[uint32]string{unix.RTN_UNICAST: "unicast", unix.RTN_LOCAL: "local", unix.RTN_BROADCAST: "broadcast",
				unix.RTN_ANYCAST: "anycast", unix.RTN_MULTICAST: "multicast"}[binary.NativeEndian.Uint32(b)]; name != "" {
				return name
			}
		}
	case fieldIif, fieldOif:
		if len(b) == 4 {
			return strconv.Itoa(int(binary.NativeEndian.Uint32(b)))
		}
	case fieldMark, fieldCtMark:
		if len(b) == 4 {
			return fmt.Sprintf("0x%x", binary.NativeEndian.Uint32(b))
		}
	}
	return "0x" + fmt.Sprintf("%x", b)
}

// routeTypes names the route types of an addrtype mask: "LOCAL".
func routeTypes(mask uint16) string {
	names := []string{"UNSPEC", "UNICAST", "LOCAL", "BROADCAST", "ANYCAST", "MULTICAST", "BLACKHOLE", "UNREACHABLE", "PROHIBIT", "THROW", "NAT", "XRESOLVE"}
	var out []string
	for i, n := range names {
		if mask&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ",")
}

// ctStates names the conntrack states of a bit mask.
func ctStates(b []byte) string {
	return bitNames(b, []bitName{{1, "invalid"}, {2, "established"}, {4, "related"}, {8, "new"}, {64, "untracked"}})
}

// ctStatusBits names the conntrack status bits of a mask (IPS_*).
func ctStatusBits(b []byte) string {
	return bitNames(b, []bitName{{1, "expected"}, {2, "seen-reply"}, {4, "assured"}, {8, "confirmed"},
		{16, "snat"}, {32, "dnat"}, {512, "dying"}})
}

type bitName struct {
	bit  uint32
	name string
}

// bitNames names the bits a 32-bit mask sets, as nft lists them:
// "established,related"; hexadecimal when none has a name.
func bitNames(b []byte, names []bitName) string {
	if len(b) != 4 {
		return fmt.Sprintf("0x%x", b)
	}
	v := binary.NativeEndian.Uint32(b)
	var out []string
	for _, n := range names {
		if v&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return fmt.Sprintf("0x%x", v)
	}
	return strings.Join(out, ",")
}

func ctKeyName(k expr.CtKey) string {
	if n := map[expr.CtKey]string{expr.CtKeySTATUS: "status", expr.CtKeyMARK: "mark", expr.CtKeyDIRECTION: "direction",
		expr.CtKeyHELPER: "helper", expr.CtKeyEXPIRATION: "expiration"}[k]; n != "" {
		return n
	}
	return "key " + strconv.Itoa(int(k))
}

func metaKeyName(k expr.MetaKey) string {
	if n := map[expr.MetaKey]string{expr.MetaKeyMARK: "mark", expr.MetaKeySKUID: "skuid", expr.MetaKeySKGID: "skgid",
		expr.MetaKeyIIFGROUP: "iifgroup", expr.MetaKeyOIFGROUP: "oifgroup", expr.MetaKeyCGROUP: "cgroup",
		expr.MetaKeyLEN: "length", expr.MetaKeyPRIORITY: "priority"}[k]; n != "" {
		return n
	}
	return "key " + strconv.Itoa(int(k))
}

func verdictName(k expr.VerdictKind) string {
	if n := map[expr.VerdictKind]string{expr.VerdictQueue: "queue", expr.VerdictStolen: "stolen",
		expr.VerdictRepeat: "repeat", expr.VerdictStop: "stop", expr.VerdictBreak: "break"}[k]; n != "" {
		return n
	}
	return strconv.Itoa(int(k))
}

// exprName names an expression type: "*expr.Hash" reads "hash".
func exprName(e expr.Any) string {
	return strings.ToLower(strings.TrimPrefix(reflect.TypeOf(e).String(), "*expr."))
}
