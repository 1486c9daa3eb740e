//go:build linux

package firewall

import (
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// FuzzCompile drives the compiler with what google/nftables can hand it
// from a ruleset the kernel accepts: sets and maps of any key length
// (catch-all elements, verdicts, data, intervals, concatenations), every
// kind of load and statement (mark and header writes, data-map lookups
// into any register, NAT from any register, numgen, xtables matches with
// arbitrary payloads). Compiling and deciding must never panic, and
// every rule must come out with text an admin can read.
func FuzzCompile(f *testing.F) {
	f.Add([]byte("\x02\x01\x00\x02\x23\x29\x00\x00\x05\x01\x02\x03\x01\x04\x0c\x00"))
	f.Add([]byte("\x01\x03\x01\x0c\x04\x00\x00\x00\x02\x00\x08\x10\x11\x12\x13\x14\x15"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1024 {
			return
		}
		g := &fuzzBytes{b: b}
		sets := g.sets()
		var rules []Rule
		for r := range 1 + int(g.next()%6) {
			rules = append(rules, Rule{Handle: uint64(r + 1), Exprs: g.exprs(sets)})
		}
		chains := []Chain{
			{Family: nftables.TableFamilyINet, Table: "t", Name: "c", Base: true, Hook: Hook(g.next() % 4), Type: nftables.ChainTypeFilter, Rules: rules},
			{Family: nftables.TableFamilyINet, Table: "t", Name: "user", Rules: rules[:1]},
		}
		rs := NewRuleset(chains, sets)
		for _, c := range rs.chains {
			for _, r := range c.rules {
				if r.text == "" && (len(r.tests) > 0 || r.verdict != verdictNone) {
					t.Fatalf("a compiled rule without text: %+v", r)
				}
			}
		}
		sc := NewScope([]Interface{lo, eth0}, nil)
		for _, l := range []Listener{{Proto: 6, Addr: netip.IPv6Unspecified(), Port: 9001}, {Proto: 17, Addr: netip.MustParseAddr("198.51.100.1"), Port: 53}} {
			if d := rs.Decide(sc, l); d.Reach == "" {
				t.Fatalf("no reach for %v", l)
			}
		}
	})
}

// fuzzBytes hands out the fuzzer's bytes, zeros once they run out.
type fuzzBytes struct{ b []byte }

func (g *fuzzBytes) next() byte {
	if len(g.b) == 0 {
		return 0
	}
	c := g.b[0]
	g.b = g.b[1:]
	return c
}

func (g *fuzzBytes) data(max byte) []byte {
	out := make([]byte, int(g.next()%(max+1)))
	for i := range out {
		out[i] = g.next()
	}
	return out
}

func (g *fuzzBytes) verdict() *expr.Verdict {
	return &expr.Verdict{Kind: expr.VerdictKind(int64(g.next()%9) - 6), Chain: []string{"user", "c", "missing"}[g.next()%3]}
}

// sets draws sets and maps: keys of any length, none for a catch-all.
func (g *fuzzBytes) sets() []Set {
	var out []Set
	for i := range 1 + int(g.next()%3) {
		flags := g.next()
		s := Set{Family: nftables.TableFamilyINet, Table: "t", Name: string(rune('a' + i)), ID: uint32(i),
			Interval: flags&1 != 0, Map: flags&2 != 0, Concat: flags&4 != 0}
		for range int(g.next() % 6) {
			e := nftables.SetElement{Key: g.data(16), IntervalEnd: g.next()%4 == 0}
			if s.Concat {
				e.KeyEnd = g.data(16)
			}
			switch {
			case s.Map && flags&8 != 0:
				e.Val = g.data(16)
			case s.Map:
				e.VerdictData = g.verdict()
			}
			s.Elements = append(s.Elements, e)
		}
		out = append(out, s)
	}
	return out
}

// exprs draws one rule's expressions.
func (g *fuzzBytes) exprs(sets []Set) []expr.Any {
	var out []expr.Any
	for range int(g.next() % 8) {
		reg := uint32(g.next() % 24)
		switch g.next() % 16 {
		case 0:
			out = append(out, &expr.Meta{Key: expr.MetaKey(g.next() % 24), Register: reg, SourceRegister: g.next()%2 == 0})
		case 1:
			op := expr.PayloadLoad
			if g.next()%3 == 0 {
				op = expr.PayloadWrite
			}
			out = append(out, &expr.Payload{OperationType: op, Base: expr.PayloadBase(g.next() % 3), Offset: uint32(g.next() % 44),
				Len: uint32(g.next() % 17), DestRegister: reg, SourceRegister: reg})
		case 2:
			out = append(out, &expr.Cmp{Op: expr.CmpOp(g.next() % 6), Register: reg, Data: g.data(16)})
		case 3:
			out = append(out, &expr.Bitwise{SourceRegister: reg, DestRegister: reg, Len: 4, Mask: g.data(8), Xor: g.data(8)})
		case 4:
			out = append(out, &expr.Range{Op: expr.CmpOp(g.next() % 2), Register: reg, FromData: g.data(16), ToData: g.data(16)})
		case 5, 6:
			s := sets[int(g.next())%len(sets)]
			out = append(out, &expr.Lookup{SourceRegister: reg, SetName: s.Name, SetID: s.ID, Invert: g.next()%2 == 0,
				IsDestRegSet: s.Map, DestRegister: uint32(g.next()%3) * reg})
		case 7:
			out = append(out, &expr.Ct{Key: expr.CtKey(g.next() % 8), Register: reg, SourceRegister: g.next()%3 == 0})
		case 8:
			out = append(out, g.verdict())
		case 9:
			out = append(out, &expr.Immediate{Register: reg, Data: g.data(16)})
		case 10:
			out = append(out, &expr.NAT{Type: expr.NATType(g.next() % 2), Family: uint32(g.next() % 11), RegAddrMin: reg,
				RegAddrMax: uint32(g.next() % 24), RegProtoMin: uint32(g.next() % 24), RegProtoMax: uint32(g.next() % 24)})
		case 11:
			out = append(out, &expr.Numgen{Register: reg, Modulus: uint32(g.next()), Type: uint32(g.next() % 2)})
		case 12:
			info := xt.Unknown(g.data(32))
			out = append(out, &expr.Match{Name: []string{"connlimit", "hashlimit", "recent", "limit", "multiport", "set", "iprange", "mark"}[g.next()%8],
				Rev: uint32(g.next() % 4), Info: &info})
		case 13:
			info := xt.Unknown(g.data(32))
			out = append(out, &expr.Target{Name: []string{"DNAT", "MARK", "CONNMARK", "REJECT", "SET"}[g.next()%5], Info: &info})
		case 14:
			out = append(out, &expr.Redir{RegisterProtoMin: reg, RegisterProtoMax: uint32(g.next() % 24)})
		case 15:
			out = append(out, &expr.Dynset{SrcRegKey: reg, SetName: sets[0].Name, Exprs: []expr.Any{&expr.Limit{Over: g.next()%2 == 0}}})
		}
	}
	return out
}
