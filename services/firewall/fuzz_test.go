//go:build linux

package firewall

import (
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// FuzzDecide builds rulesets from random bytes — loads of every kind into
// random registers, comparisons, ranges, lookups, masks, and jumps between
// chains, loops included — and decides listeners against them. The
// evaluator must never panic or hang, and its answer must be one of the
// reaches it documents.
func FuzzDecide(f *testing.F) {
	f.Add([]byte{1, 6, 2, 0x23, 0x29, 9, 1, 0, 3})
	f.Add([]byte{0, 0, 0, 0, 7, 7, 7, 7, 8, 1, 8, 0, 8, 2})
	f.Add([]byte("\x05\x0c\x04\x0a\x00\x00\x00\x03\xff\x00\x00\x00\x07\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 512 {
			return
		}
		rs := NewRuleset(fuzzChains(b))
		sc := NewScope([]Interface{
			{Name: "lo", Index: 1, Loopback: true, Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}},
			{Name: "eth0", Index: 2, Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24"), netip.MustParsePrefix("2001:db8::1/64")},
				Routes: []Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Table: 254}, {Dst: netip.MustParsePrefix("198.51.100.0/24"), Table: 254}, {Dst: netip.MustParsePrefix("::/0"), Table: 254}}},
		}, []netip.Prefix{netip.MustParsePrefix("198.51.100.128/25")})
		for _, l := range []Listener{
			{Proto: 6, Addr: netip.IPv6Unspecified(), Port: uint16(len(b))},
			{Proto: 17, Addr: netip.MustParseAddr("198.51.100.1"), Port: 53},
			{Proto: 6, Addr: netip.MustParseAddr("127.0.0.1"), Port: 8080},
		} {
			d := rs.Decide(sc, l)
			switch d.Reach {
			case ReachPublic, ReachInternal, ReachHost, ReachNone, ReachUnknown:
			default:
				t.Fatalf("reach %q", d.Reach)
			}
			_ = d.RuleRef()
		}
		DecideForwarded(rs, sc, 6, netip.MustParseAddrPort("0.0.0.0:8080"), netip.MustParseAddrPort("198.51.100.9:80"), rs, sc)
	})
}

// fuzzChains reads chains, rules and sets out of b, a few bytes each.
func fuzzChains(b []byte) ([]Chain, []Set) {
	next := func() byte {
		if len(b) == 0 {
			return 0
		}
		c := b[0]
		b = b[1:]
		return c
	}
	data := func() []byte {
		n := int(next() % 17)
		out := make([]byte, n)
		for i := range out {
			out[i] = next()
		}
		return out
	}
	names := []string{"input", "prerouting", "forward", "output", "user"}
	families := []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyIPv4, nftables.TableFamilyIPv6}
	sets := []Set{
		{Family: nftables.TableFamilyINet, Table: "t", Name: "ports", Elements: []nftables.SetElement{{Key: []byte{0, 22}}, {Key: []byte{0x1f, 0x90}}}},
		{Family: nftables.TableFamilyINet, Table: "t", Name: "nets", Interval: true, Elements: []nftables.SetElement{
			{Key: []byte{198, 51, 100, 0}}, {Key: []byte{198, 51, 101, 0}, IntervalEnd: true}, {Key: []byte{10, 0, 0, 0}}}},
		{Family: nftables.TableFamilyINet, Table: "t", Name: "vm", Map: true, Elements: []nftables.SetElement{
			{Key: []byte{0, 22}, VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: "user"}}, {Key: []byte{0, 80}, VerdictData: &expr.Verdict{Kind: expr.VerdictDrop}}}},
	}
	var chains []Chain
	for i := range names {
		c := Chain{Family: families[int(next())%len(families)], Table: "t", Name: names[i], Base: i < 4, Hook: Hook(i % 4),
			Priority: int32(int8(next())), Drop: next()%2 == 0, Type: nftables.ChainTypeFilter}
		if next()%5 == 0 {
			c.Type = nftables.ChainTypeNAT
		}
		for r := 0; r < int(next()%6) && len(b) > 0; r++ {
			var exprs []expr.Any
			for e := 0; e < int(next()%6); e++ {
				reg := uint32(next() % 24)
				switch next() % 14 {
				case 0:
					exprs = append(exprs, &expr.Meta{Key: expr.MetaKey(next() % 20), Register: reg})
				case 1:
					exprs = append(exprs, &expr.Payload{Base: expr.PayloadBase(next() % 3), Offset: uint32(next() % 44), Len: uint32(next() % 17), DestRegister: reg})
				case 2:
					exprs = append(exprs, &expr.Cmp{Op: expr.CmpOp(next() % 6), Register: reg, Data: data()})
				case 3:
					exprs = append(exprs, &expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4, Mask: data(), Xor: data()})
				case 4:
					exprs = append(exprs, &expr.Range{Op: expr.CmpOp(next() % 2), Register: reg, FromData: data(), ToData: data()})
				case 5:
					s := sets[int(next())%len(sets)]
					exprs = append(exprs, &expr.Lookup{SourceRegister: reg, SetName: s.Name, Invert: next()%2 == 0, IsDestRegSet: s.Map, DestRegister: 0})
				case 6:
					exprs = append(exprs, &expr.Ct{Key: expr.CtKey(next() % 4), Register: reg})
				case 7:
					exprs = append(exprs, &expr.Fib{Register: reg, ResultADDRTYPE: true, FlagDADDR: next()%2 == 0})
				case 8:
					exprs = append(exprs, &expr.Verdict{Kind: expr.VerdictKind(int64(next()%8) - 5), Chain: names[int(next())%len(names)]})
				case 9:
					exprs = append(exprs, &expr.Reject{})
				case 10:
					exprs = append(exprs, &expr.Counter{})
				case 11:
					exprs = append(exprs, &expr.NAT{Type: expr.NATTypeDestNAT})
				case 12:
					exprs = append(exprs, &expr.Limit{})
				case 13:
					exprs = append(exprs, &expr.Immediate{Register: reg, Data: data()})
				}
			}
			c.Rules = append(c.Rules, Rule{Handle: uint64(r + 1), Exprs: exprs})
		}
		chains = append(chains, c)
	}
	return chains, sets
}
