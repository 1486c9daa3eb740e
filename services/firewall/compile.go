//go:build linux

package firewall

import (
	"slices"
	"strconv"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
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
	fieldMark         // meta mark: the packet's, as the ruleset set it (marks.go)
	fieldCtMark       // ct mark: the connection's, likewise
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
	// marks and rewrites are statements that change the packet or its
	// connection for the rules after (statements.go).
	marks    []markStmt
	rewrites []rewrite
	// mapText is how the map lookup a rule was lowered from reads
	// ("tcp dport vmap @ports"): its element test is not rendered.
	mapText string
	text    string
}

// clone copies a rule being compiled, for another branch of a map.
func (r *rule) clone() *rule {
	c := *r
	c.tests, c.unknown, c.limited = slices.Clone(r.tests), slices.Clone(r.unknown), slices.Clone(r.limited)
	c.marks, c.rewrites = slices.Clone(r.marks), slices.Clone(r.rewrites)
	return &c
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

// compiler compiles the expressions of one rule. A map lookup forks the
// compilation: a rule is lowered into one rule per element of each map it
// looks up (see lower.go), so the evaluator has one kind of rule to follow.
type compiler struct {
	c         *chain
	r         *Rule
	lookupSet func(name string, id uint32) *compiledSet
	lookupObj func(name string) *Object
	ipsets    map[uint16]*IPSet // by kernel index
	out       []*rule
}

// branch is one path through a rule's expressions: what the registers
// hold, and the rule compiled so far.
type branch struct {
	out  *rule
	regs map[uint32]reg
	// v6 is the IP version the rule's network-header loads read: the
	// table's, or in an inet table the one its "meta nfproto" test picked.
	v6 bool
}

func (b *branch) clone() *branch {
	regs := make(map[uint32]reg, len(b.regs))
	for k, v := range b.regs {
		regs[k] = v
	}
	return &branch{out: b.out.clone(), regs: regs, v6: b.v6}
}

// compile follows a rule's expressions through the registers, as the
// kernel would, and records what each comparison tests. A rule that looks
// up a map comes back as several rules, one per element (in order), each
// with the element's verdict or data.
func (cp *compiler) compile() []*rule {
	cp.run(&branch{out: &rule{handle: cp.r.Handle}, regs: map[uint32]reg{}, v6: cp.c.Family == nftables.TableFamilyIPv6}, 0, cp.r.Missing)
	for _, out := range cp.out {
		out.text = renderRule(cp.c, out)
	}
	return cp.out
}

// notUnderstood records what a branch does not understand. It may have
// written any register: none is trusted after it, so a later comparison
// is undecided rather than a test of whatever an earlier load left there.
func (b *branch) notUnderstood(what string) {
	b.out.unknown = append(b.out.unknown, what)
	for k := range b.regs {
		b.regs[k] = reg{unknown: what}
	}
}

func (b *branch) load(dst uint32, x reg) { b.regs[regIndex(dst)] = x }

// addTest adds a comparison of what register src holds.
func (b *branch) addTest(src uint32, t test) {
	x, ok := b.regs[regIndex(src)]
	switch {
	case !ok:
		b.out.unknown = append(b.out.unknown, "a comparison of an empty register")
		return
	case x.unknown != "":
		b.out.unknown = append(b.out.unknown, x.unknown)
		return
	}
	t.field, t.start, t.length, t.mask, t.xor = x.field, x.start, x.length, x.mask, x.xor
	t.prepare()
	b.out.tests = append(b.out.tests, t)
}

// concatenated reports whether a lookup of s from register src reads a
// concatenation: the set says so (an interval one does), or its key is
// longer than the field the register holds — the kernel reads the key's
// length from consecutive registers.
func (b *branch) concatenated(src uint32, s *compiledSet) bool {
	if s.concat {
		return true
	}
	x, ok := b.regs[regIndex(src)]
	return ok && x.unknown == "" && x.field != fieldNone && s.keyLen > int((x.length+3)&^3)
}

// run compiles the rule's expressions from the i-th on into branch b.
func (cp *compiler) run(b *branch, from int, missing []Missing) {
	for i := from; i < len(cp.r.Exprs); i++ {
		for ; len(missing) > 0 && missing[0].Before <= i; missing = missing[1:] {
			if bo := missing[0].Byteorder; bo != nil && bo.Len/bo.Size == 0 && bo.Dst == bo.Src {
				// nft's "hton(reg 2, 2, 1)" before a concatenated lookup:
				// fewer bytes than one word of its size, so nothing turns.
				continue
			}
			b.notUnderstood(missing[0].Name)
		}
		if l, ok := cp.r.Exprs[i].(*expr.Lookup); ok && l.IsDestRegSet {
			if s := cp.lookupSet(l.SetName, l.SetID); s != nil {
				cp.lower(b, l, s, i, missing)
				return
			}
		}
		cp.step(b, cp.r.Exprs[i])
	}
	for _, m := range missing {
		b.notUnderstood(m.Name)
	}
	cp.out = append(cp.out, b.out)
}

// step compiles one expression into branch b.
func (cp *compiler) step(b *branch, e expr.Any) {
	out := b.out
	switch e := e.(type) {
	case *expr.Meta:
		if e.SourceRegister {
			b.setMark(e)
			return
		}
		b.load(e.Register, metaField(e.Key))
	case *expr.Payload:
		if e.OperationType != expr.PayloadLoad {
			b.rewrite(e)
			return
		}
		b.load(e.DestRegister, payloadField(e, b.v6))
	case *expr.Ct:
		if e.SourceRegister {
			b.setCtMark(e)
			return
		}
		switch {
		case e.Key == expr.CtKeySTATE:
			b.load(e.Register, reg{field: fieldCtState, length: 4})
		case e.Key == expr.CtKeySTATUS:
			b.load(e.Register, reg{field: fieldCtStatus, length: 4})
		case e.Key == expr.CtKeyDIRECTION:
			b.load(e.Register, reg{field: fieldCtDir, length: 1})
		case e.Key == expr.CtKeyMARK:
			b.load(e.Register, reg{field: fieldCtMark, length: 4})
		default:
			b.load(e.Register, reg{unknown: "ct " + ctKeyName(e.Key)})
		}
	case *expr.Fib:
		b.load(e.Register, fibField(e))
	case *expr.Bitwise:
		x := b.regs[regIndex(e.SourceRegister)]
		if x.mask != nil || x.unknown != "" {
			x = reg{unknown: "a bitwise operation"}
		} else {
			x.mask, x.xor = e.Mask, e.Xor
		}
		b.load(e.DestRegister, x)
	case *expr.Immediate:
		b.load(e.Register, reg{value: e.Data})
	case *expr.Cmp:
		if x := b.regs[regIndex(e.Register)]; e.Op == expr.CmpOpEq && len(e.Data) > 0 &&
			(x.field == fieldNFProto || x.field == fieldEtherType) && x.mask == nil {
			b.v6 = e.Data[len(e.Data)-1] == unix.NFPROTO_IPV6 || e.Data[len(e.Data)-1] == 0xdd // 0x86dd
		}
		b.addTest(e.Register, test{op: opCmp, cmp: e.Op, data: e.Data})
	case *expr.Range:
		b.addTest(e.Register, test{op: opRange, cmp: e.Op, data: e.FromData, to: e.ToData})
	case *expr.Lookup:
		s := cp.lookupSet(e.SetName, e.SetID)
		switch {
		case s == nil:
			out.unknown = append(out.unknown, "lookup in missing set "+e.SetName)
		case b.concatenated(e.SourceRegister, s):
			if t, ok := concatTest(b.regs, e.SourceRegister, s, e.Invert); ok {
				out.tests = append(out.tests, t)
			} else {
				out.unknown = append(out.unknown, "lookup in concatenated set "+s.label)
			}
		default:
			b.addTest(e.SourceRegister, test{op: opLookup, set: s, invert: e.Invert})
		}
	case *expr.Counter, *expr.Log:
		// statements that do not decide
	case *expr.Notrack:
		out.notrack = true
	case *expr.Limit, *expr.Quota, *expr.Connlimit:
		out.stateful(e, false)
	case *expr.Objref:
		switch o := cp.lookupObj(e.Name); {
		case o == nil:
			b.notUnderstood("a reference to missing object " + e.Name)
		case e.Type == objCounter:
		case e.Type == objQuota || e.Type == objLimit || e.Type == objConnlimit:
			if !out.stateful(o.Obj, false) {
				b.notUnderstood("object " + e.Name)
			}
		default:
			b.notUnderstood("object " + e.Name + " of type " + strconv.Itoa(e.Type))
		}
	case *expr.Dynset:
		// "add @set { ip saddr limit rate … }", a meter: each new source
		// gets a fresh element, so a first connection is within its
		// limits. Without expressions it only records the packet.
		for _, x := range e.Exprs {
			if _, counter := x.(*expr.Counter); !counter && !out.stateful(x, true) {
				b.notUnderstood("a set statement (dynset) with " + exprName(x))
			}
		}
	case *expr.Verdict:
		out.setVerdict(e)
	case *expr.Reject:
		out.verdict = verdictReject
	case *expr.NAT:
		if e.Type == expr.NATTypeDestNAT {
			out.verdict = verdictDNAT
			out.nat = natOf(b.regs, e.RegAddrMin, e.RegAddrMax, e.RegProtoMin, e.RegProtoMax, false, e.Family == unix.NFPROTO_IPV6)
		}
	case *expr.Redir:
		out.verdict = verdictDNAT
		out.nat = natOf(b.regs, 0, 0, e.RegisterProtoMin, e.RegisterProtoMax, true, false)
	case *expr.Masq:
	case *expr.Match:
		cp.match(b, e)
	case *expr.Target:
		switch e.Name {
		case "LOG", "NFLOG":
		case "MARK", "CONNMARK":
			out.marks = append(out.marks, xtMarkTarget(e))
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
		b.notUnderstood(exprName(e))
	}
}

// setVerdict records an immediate verdict, or one a verdict map gives.
func (r *rule) setVerdict(e *expr.Verdict) {
	switch e.Kind {
	case expr.VerdictAccept:
		r.verdict = verdictAccept
	case expr.VerdictDrop:
		r.verdict = verdictDrop
	case expr.VerdictReturn:
		r.verdict = verdictReturn
	case expr.VerdictJump:
		r.verdict, r.targetName = verdictJump, e.Chain
	case expr.VerdictGoto:
		r.verdict, r.targetName = verdictGoto, e.Chain
	case expr.VerdictContinue:
	default:
		r.verdict = verdictUnknown
		r.unknown = append(r.unknown, "verdict "+verdictName(e.Kind))
	}
}
