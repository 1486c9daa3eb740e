//go:build linux

package firewall

import (
	"strconv"

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
	fieldSaddrTypes   // xt addrtype: 1 << the route type of the source
	fieldDaddrTypes   // and of the destination
	fieldXtCtState    // xt conntrack: its state bits, with SNAT and DNAT
	fieldPorts        // source and destination port loaded at once
	fieldRoutingHdr   // an IPv6 routing header, which new connections lack
	fieldCtStatus     // ct status: a first packet's has only the NAT bits its path set
	fieldCtDir        // ct direction: a first packet's is original
	fieldFibSaddrOif  // fib saddr . iif oif: the interface replies leave by
	fieldFibSaddrType // fib saddr type
	fieldICMPType     // icmp/icmpv6 type: the transport header's first byte
	fieldHopLimit     // ip6 hoplimit: known for neighbour discovery only (255)
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
	handle  uint64
	tests   []test
	unknown []string // conditions or statements not understood
	// never says why a new connection's first packet cannot match ("recent
	// --update": its source was not seen before); "" when it can.
	never string
	rate  bool // never is a rate limit's doing (its rule is said as rate-limiting)
	// limited names the rate limits a first connection passes within its
	// rate ("limit rate 3/minute"): they decide nothing, but are said.
	limited []string
	notrack bool // the rule takes matching packets out of connection tracking
	// nat is where a DNAT or redirect sends the packet, when known.
	nat        *natTarget
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
func compileRule(c *chain, r *Rule, lookupSet func(name string, id uint32) *compiledSet, lookupObj func(name string) *Object) *rule {
	out := &rule{handle: r.Handle}
	regs := map[uint32]reg{}
	// An expression not understood may have written any register: none is
	// trusted after it, so a later comparison is undecided rather than a
	// test of whatever an earlier load left there.
	notUnderstood := func(what string) {
		out.unknown = append(out.unknown, what)
		for k := range regs {
			regs[k] = reg{unknown: what}
		}
	}
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
	missing := r.Missing
	for i, e := range r.Exprs {
		for ; len(missing) > 0 && missing[0].Before <= i; missing = missing[1:] {
			if bo := missing[0].Byteorder; bo != nil && bo.Len/bo.Size == 0 && bo.Dst == bo.Src {
				// nft's "hton(reg 2, 2, 1)" before a concatenated lookup:
				// fewer bytes than one word of its size, so nothing turns.
				continue
			}
			notUnderstood(missing[0].Name)
		}
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
			switch {
			case e.Key == expr.CtKeySTATE:
				load(e.Register, reg{field: fieldCtState, length: 4})
			case e.Key == expr.CtKeySTATUS:
				load(e.Register, reg{field: fieldCtStatus, length: 4})
			case e.Key == expr.CtKeyDIRECTION:
				load(e.Register, reg{field: fieldCtDir, length: 1})
			default:
				load(e.Register, reg{unknown: "ct " + ctKeyName(e.Key)})
			}
		case *expr.Fib:
			load(e.Register, fibField(e))
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
		case *expr.Counter, *expr.Log:
			// statements that do not decide
		case *expr.Notrack:
			out.notrack = true
		case *expr.Limit, *expr.Quota, *expr.Connlimit:
			out.stateful(e, false)
		case *expr.Objref:
			switch o := lookupObj(e.Name); {
			case o == nil:
				notUnderstood("a reference to missing object " + e.Name)
			case e.Type == objCounter:
			case e.Type == objQuota || e.Type == objLimit || e.Type == objConnlimit:
				if !out.stateful(o.Obj, false) {
					notUnderstood("object " + e.Name)
				}
			default:
				notUnderstood("object " + e.Name + " of type " + strconv.Itoa(e.Type))
			}
		case *expr.Dynset:
			// "add @set { ip saddr limit rate … }", a meter: each new source
			// gets a fresh element, so a first connection is within its
			// limits. Without expressions it only records the packet.
			for _, x := range e.Exprs {
				if _, counter := x.(*expr.Counter); !counter && !out.stateful(x, true) {
					notUnderstood("a set statement (dynset) with " + exprName(x))
				}
			}
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
				out.nat = natOf(regs, e.RegAddrMin, e.RegAddrMax, e.RegProtoMin, e.RegProtoMax, false)
			}
		case *expr.Redir:
			out.verdict = verdictDNAT
			out.nat = natOf(regs, 0, 0, e.RegisterProtoMin, e.RegisterProtoMax, true)
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
				case "limit", "hashlimit", "recent":
					if !out.xtRateMatch(e) {
						notUnderstood("xt match " + e.Name)
					}
				default:
					if !out.xtMatch(e, v6) {
						notUnderstood("xt match " + e.Name)
					}
				}
			}
		case *expr.Target:
			switch e.Name {
			case "LOG", "NFLOG", "MARK", "CONNMARK":
			case "REJECT":
				out.verdict = verdictReject
			case "DNAT":
				out.verdict = verdictDNAT
				if to, ok := DNATTarget(e.Info); ok {
					out.nat = &natTarget{addr: to.Addr(), port: to.Port()}
				}
			case "REDIRECT":
				out.verdict = verdictDNAT
			default:
				out.verdict = verdictUnknown
				out.unknown = append(out.unknown, "xt target "+e.Name)
			}
		case *expr.Queue:
			out.verdict = verdictUnknown
			out.unknown = append(out.unknown, "queue")
		default:
			notUnderstood(exprName(e))
		}
	}
	for _, m := range missing {
		notUnderstood(m.Name)
	}
	out.text = renderRule(c, out)
	return out
}
