//go:build linux

package firewall

import (
	"encoding/binary"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// field is what a register holds: a part of the packet or of its
// metadata that rules test.
type field uint8

const (
	fieldNone field = iota
	fieldL4Proto
	fieldNFProto
	fieldEtherType // meta protocol
	fieldIifname
	fieldOifname
	fieldIif
	fieldOif
	fieldIifType
	fieldPktType
	fieldSaddr4
	fieldDaddr4
	fieldSaddr6
	fieldDaddr6
	fieldSport
	fieldDport
	fieldTCPFlags
	fieldCtState
	fieldFibDaddrType
	fieldSaddrTypes // xt addrtype: 1 << the route type of the source
	fieldDaddrTypes // and of the destination
	fieldXtCtState  // xt conntrack: its state bits, with SNAT and DNAT
	fieldPorts      // source and destination port loaded at once
	fieldRoutingHdr // an IPv6 routing header, which new connections lack
	fieldCount
)

// verdictKind is what a rule does to a packet it matches.
type verdictKind uint8

const (
	verdictNone    verdictKind = iota // counters, logs: the packet goes on
	verdictAccept                     // on to the next base chain
	verdictDrop                       // silently
	verdictReject                     // with an error to the sender
	verdictJump                       // into target, then back
	verdictGoto                       // into target, not back
	verdictReturn                     // back to the calling chain
	verdictDNAT                       // to another destination: not this listener
	verdictMap                        // from a verdict map
	verdictUnknown                    // a terminal statement not understood
)

// rule is a compiled rule: the tests a packet must pass, what is left
// undecided, and the verdict.
type rule struct {
	handle     uint64
	tests      []test
	unknown    []string // conditions or statements not understood
	verdict    verdictKind
	targetName string // jump, goto
	target     *chain
	vmap       *test // verdictMap: the lookup that picks the verdict
	text       string
}

// reg is what the compiler knows a register holds.
type reg struct {
	field         field
	start, length uint32 // the bytes of the field loaded
	mask, xor     []byte // a bitwise operation applied since
	unknown       string // a load not understood
	value         []byte // immediate data
}

// regIndex maps the 16-byte and the 32-bit register numbers to one space.
func regIndex(r uint32) uint32 {
	if r >= 1 && r <= 4 {
		return (r - 1) * 4
	}
	if r >= 8 {
		return r - 8
	}
	return 1 << 20 // the verdict register
}

// compileRule follows a rule's expressions through the registers, as the
// kernel would, and records what each comparison tests.
func compileRule(c *chain, r *Rule, lookupSet func(name string, id uint32) *compiledSet) *rule {
	out := &rule{handle: r.Handle}
	regs := map[uint32]reg{}
	// The IP version the rule's network-header loads read: the table's,
	// or in an inet table the one its "meta nfproto" test picked.
	v6 := c.Family == nftables.TableFamilyIPv6
	load := func(dst uint32, x reg) { regs[regIndex(dst)] = x }
	addTest := func(src uint32, t test) {
		x, ok := regs[regIndex(src)]
		switch {
		case !ok:
			out.unknown = append(out.unknown, "a comparison of an empty register")
			return
		case x.unknown != "":
			out.unknown = append(out.unknown, x.unknown)
			return
		}
		t.field, t.start, t.length, t.mask, t.xor = x.field, x.start, x.length, x.mask, x.xor
		t.prepare()
		out.tests = append(out.tests, t)
	}
	for _, e := range r.Exprs {
		switch e := e.(type) {
		case *expr.Meta:
			if e.SourceRegister {
				continue // "meta mark set": changes nothing a filter here tests
			}
			load(e.Register, metaField(e.Key))
		case *expr.Payload:
			if e.OperationType != expr.PayloadLoad {
				continue // a header rewrite
			}
			load(e.DestRegister, payloadField(e, v6))
		case *expr.Ct:
			if e.SourceRegister {
				continue // "ct mark set"
			}
			if e.Key == expr.CtKeySTATE {
				load(e.Register, reg{field: fieldCtState, length: 4})
			} else {
				load(e.Register, reg{unknown: "ct " + ctKeyName(e.Key)})
			}
		case *expr.Fib:
			if e.ResultADDRTYPE && e.FlagDADDR && !e.FlagSADDR && !e.FlagMARK {
				load(e.Register, reg{field: fieldFibDaddrType, length: 4})
			} else {
				load(e.Register, reg{unknown: "fib lookup"})
			}
		case *expr.Bitwise:
			x := regs[regIndex(e.SourceRegister)]
			if x.mask != nil || x.unknown != "" {
				x = reg{unknown: "a bitwise operation"}
			} else {
				x.mask, x.xor = e.Mask, e.Xor
			}
			load(e.DestRegister, x)
		case *expr.Immediate:
			load(e.Register, reg{value: e.Data})
		case *expr.Cmp:
			if x := regs[regIndex(e.Register)]; e.Op == expr.CmpOpEq && len(e.Data) > 0 &&
				(x.field == fieldNFProto || x.field == fieldEtherType) && x.mask == nil {
				v6 = e.Data[len(e.Data)-1] == unix.NFPROTO_IPV6 || e.Data[len(e.Data)-1] == 0xdd // 0x86dd
			}
			addTest(e.Register, test{op: opCmp, cmp: e.Op, data: e.Data})
		case *expr.Range:
			addTest(e.Register, test{op: opRange, cmp: e.Op, data: e.FromData, to: e.ToData})
		case *expr.Lookup:
			s := lookupSet(e.SetName, e.SetID)
			switch {
			case s == nil:
				out.unknown = append(out.unknown, "lookup in missing set "+e.SetName)
			case s.concat && !e.IsDestRegSet:
				if t, ok := concatTest(regs, e.SourceRegister, s, e.Invert); ok {
					out.tests = append(out.tests, t)
				} else {
					out.unknown = append(out.unknown, "lookup in concatenated set "+s.label)
				}
			case s.concat:
				out.unknown = append(out.unknown, "map lookup in concatenated set "+s.label)
			case e.IsDestRegSet && regIndex(e.DestRegister) == 1<<20:
				n := len(out.tests)
				addTest(e.SourceRegister, test{op: opLookup, set: s})
				if len(out.tests) > n {
					vmap := out.tests[n]
					out.vmap = &vmap
					out.tests = out.tests[:n]
					out.verdict = verdictMap
				}
			case e.IsDestRegSet:
				load(e.DestRegister, reg{unknown: "data map lookup"})
			default:
				addTest(e.SourceRegister, test{op: opLookup, set: s, invert: e.Invert})
			}
		case *expr.Counter, *expr.Log, *expr.Objref, *expr.Notrack, *expr.Dynset:
			// statements that do not decide
		case *expr.Limit:
			out.unknown = append(out.unknown, "limit rate")
		case *expr.Quota:
			out.unknown = append(out.unknown, "quota")
		case *expr.Connlimit:
			out.unknown = append(out.unknown, "ct count")
		case *expr.Verdict:
			switch e.Kind {
			case expr.VerdictAccept:
				out.verdict = verdictAccept
			case expr.VerdictDrop:
				out.verdict = verdictDrop
			case expr.VerdictReturn:
				out.verdict = verdictReturn
			case expr.VerdictJump:
				out.verdict, out.targetName = verdictJump, e.Chain
			case expr.VerdictGoto:
				out.verdict, out.targetName = verdictGoto, e.Chain
			case expr.VerdictContinue:
			default:
				out.verdict = verdictUnknown
				out.unknown = append(out.unknown, "verdict "+verdictName(e.Kind))
			}
		case *expr.Reject:
			out.verdict = verdictReject
		case *expr.NAT:
			if e.Type == expr.NATTypeDestNAT {
				out.verdict = verdictDNAT
			}
		case *expr.Redir:
			out.verdict = verdictDNAT
		case *expr.Masq:
		case *expr.Match:
			switch info := e.Info.(type) {
			case *xt.AddrType:
				out.tests = append(out.tests, addrTypeTests(info.Source, info.InvertSource, info.Dest, info.InvertDest)...)
			case *xt.AddrTypeV1:
				out.tests = append(out.tests, addrTypeTests(info.Source, info.Flags&xtAddrTypeInvertSource != 0,
					info.Dest, info.Flags&xtAddrTypeInvertDest != 0)...)
			case *xt.ConntrackMtinfo1:
				out.addConntrack(&info.ConntrackMtinfoBase, uint16(info.StateMask))
			case *xt.ConntrackMtinfo2:
				out.addConntrack(&info.ConntrackMtinfoBase, info.StateMask)
			case *xt.ConntrackMtinfo3:
				out.addConntrack(&info.ConntrackMtinfoBase, info.StateMask)
			default:
				switch e.Name {
				case "comment":
				case "rt":
					// ip6tables -m rt: matches only a packet with an IPv6
					// routing header.
					out.tests = append(out.tests, test{field: fieldRoutingHdr})
				default:
					out.unknown = append(out.unknown, "xt match "+e.Name)
				}
			}
		case *expr.Target:
			switch e.Name {
			case "LOG", "NFLOG", "MARK", "CONNMARK":
			case "REJECT":
				out.verdict = verdictReject
			case "DNAT", "REDIRECT":
				out.verdict = verdictDNAT
			default:
				out.verdict = verdictUnknown
				out.unknown = append(out.unknown, "xt target "+e.Name)
			}
		case *expr.Queue:
			out.verdict = verdictUnknown
			out.unknown = append(out.unknown, "queue")
		default:
			out.unknown = append(out.unknown, exprName(e))
		}
	}
	out.text = renderRule(c, out)
	return out
}

// The xt addrtype match's invert flags (revision 1).
const (
	xtAddrTypeInvertSource = 0x1
	xtAddrTypeInvertDest   = 0x2
)

// addrTypeTests turns iptables' "-m addrtype --src-type/--dst-type" into
// tests of a bit mask of route types, as the match itself does.
func addrTypeTests(src uint16, invertSrc bool, dst uint16, invertDst bool) []test {
	var out []test
	for _, x := range []struct {
		field  field
		types  uint16
		invert bool
	}{{fieldSaddrTypes, src, invertSrc}, {fieldDaddrTypes, dst, invertDst}} {
		if x.types == 0 {
			continue
		}
		op := expr.CmpOpNeq // some type of the mask
		if x.invert {
			op = expr.CmpOpEq
		}
		out = append(out, test{field: x.field, length: 2, mask: binary.NativeEndian.AppendUint16(nil, x.types),
			op: opCmp, cmp: op, data: []byte{0, 0}})
	}
	return out
}

// addConntrack turns iptables' "-m conntrack --ctstate" into a test of
// the state bits; any other conntrack criterion stays undecided.
func (r *rule) addConntrack(m *xt.ConntrackMtinfoBase, states uint16) {
	if xt.ConntrackFlags(m.MatchFlags)&^(xt.ConntrackState|xt.ConntrackStateAlias) != 0 {
		r.unknown = append(r.unknown, "xt match conntrack")
		return
	}
	op := expr.CmpOpNeq
	if xt.ConntrackFlags(m.InvertFlags)&xt.ConntrackState != 0 {
		op = expr.CmpOpEq
	}
	r.tests = append(r.tests, test{field: fieldXtCtState, length: 2, mask: binary.NativeEndian.AppendUint16(nil, states),
		op: opCmp, cmp: op, data: []byte{0, 0}})
}

// metaFields are the meta keys whose values the evaluator knows for a
// new connection's first packet, and their lengths.
var metaFields = map[expr.MetaKey]reg{
	expr.MetaKeyL4PROTO:  {field: fieldL4Proto, length: 1},
	expr.MetaKeyNFPROTO:  {field: fieldNFProto, length: 1},
	expr.MetaKeyPROTOCOL: {field: fieldEtherType, length: 2},
	expr.MetaKeyIIFNAME:  {field: fieldIifname, length: 16},
	expr.MetaKeyOIFNAME:  {field: fieldOifname, length: 16},
	expr.MetaKeyIIF:      {field: fieldIif, length: 4},
	expr.MetaKeyOIF:      {field: fieldOif, length: 4},
	expr.MetaKeyIIFTYPE:  {field: fieldIifType, length: 2},
	expr.MetaKeyPKTTYPE:  {field: fieldPktType, length: 1},
}

func metaField(k expr.MetaKey) reg {
	if r, ok := metaFields[k]; ok {
		return r
	}
	return reg{unknown: "meta " + metaKeyName(k)}
}

func payloadField(p *expr.Payload, v6 bool) reg {
	within := func(f field, off, size uint32) (reg, bool) {
		if p.Offset >= off && p.Offset+p.Len <= off+size && p.Len > 0 {
			return reg{field: f, start: p.Offset - off, length: p.Len}, true
		}
		return reg{}, false
	}
	switch p.Base {
	case expr.PayloadBaseNetworkHeader:
		if v6 {
			if r, ok := within(fieldSaddr6, 8, 16); ok {
				return r
			}
			if r, ok := within(fieldDaddr6, 24, 16); ok {
				return r
			}
			break
		}
		if r, ok := within(fieldSaddr4, 12, 4); ok {
			return r
		}
		if r, ok := within(fieldDaddr4, 16, 4); ok {
			return r
		}
	case expr.PayloadBaseTransportHeader:
		if r, ok := within(fieldSport, 0, 2); ok {
			return r
		}
		if r, ok := within(fieldDport, 2, 2); ok {
			return r
		}
		if p.Offset == 0 && p.Len == 4 {
			return reg{field: fieldPorts, length: 4} // iptables-nft's "--sport X --dport Y"
		}
		if p.Offset == 13 && p.Len == 1 {
			return reg{field: fieldTCPFlags, length: 1}
		}
	}
	return reg{unknown: "a payload match"}
}

// l4Names names the protocols rules test most.
var l4Names = map[byte]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp", unix.IPPROTO_ICMP: "icmp",
	unix.IPPROTO_ICMPV6: "icmpv6", unix.IPPROTO_SCTP: "sctp", unix.IPPROTO_ESP: "esp", unix.IPPROTO_GRE: "gre"}
