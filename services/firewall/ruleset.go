//go:build linux

package firewall

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Hook is the point of the kernel's path where a base chain sees packets.
type Hook uint32

// The hooks a packet to a local listener, or forwarded to a container,
// passes.
const (
	HookPrerouting  Hook = 0
	HookInput       Hook = 1
	HookForward     Hook = 2
	HookOutput      Hook = 3
	HookPostrouting Hook = 4
	// HookIngress is a device's ingress hook (a netdev table's, or an inet
	// table's): it sees every packet the device receives, ahead of
	// prerouting. Its number is portwarden's, not the kernel's.
	HookIngress Hook = 100
	// HookEgress is a netdev table's egress hook: every packet the device
	// sends, after postrouting.
	HookEgress Hook = 101
)

// Chain is one chain of a ruleset, as nftables keeps it.
type Chain struct {
	Family nftables.TableFamily
	Table  string
	Name   string
	// Base chains are attached to a hook; others are only jumped to.
	Base     bool
	Hook     Hook
	Priority int32
	Type     nftables.ChainType // "filter", "nat", "route"
	Drop     bool               // the base chain's policy is drop
	// Devices are the devices an ingress or egress chain is attached to.
	Devices []string
	Rules   []Rule
}

// Rule is a rule of a chain: its handle and expressions.
type Rule struct {
	Handle uint64
	Exprs  []expr.Any
	// Missing are expressions the rule holds that could not be decoded:
	// the rule is undecided wherever a packet reaches them.
	Missing []Missing
}

// Byteorder is a byteorder expression, which the library cannot decode.
type Byteorder struct {
	Src, Dst, Op, Len, Size uint32
}

// Missing is an expression that could not be decoded, standing before
// Exprs[Before] (or last).
type Missing struct {
	Before int
	Name   string
	// Byteorder holds a byteorder expression's parameters, which the
	// evaluator follows where it converts nothing.
	Byteorder *Byteorder
}

// Set is a named or anonymous set (or map) of a table, with its elements.
type Set struct {
	Family   nftables.TableFamily
	Table    string
	Name     string
	ID       uint32
	Interval bool
	Map      bool // a verdict map when its elements carry verdicts
	Concat   bool // a concatenation of several fields: not evaluated
	Elements []nftables.SetElement
}

// Ruleset is the nftables ruleset of one network namespace, compiled for
// evaluation. Build one with NewRuleset; it is read-only afterwards and
// safe for concurrent use.
type Ruleset struct {
	// Generation is the ruleset's generation number when it was read: the
	// kernel changes it on every change of the ruleset.
	Generation uint32
	// LegacySum identifies the iptables-legacy tables evaluated with the
	// ruleset (Legacy.Sum); 0 for none.
	LegacySum uint64
	// UsesIPSets is set when a rule matches on an ipset; IPSetSum then
	// identifies the ipsets read with the ruleset, which change without a
	// new generation.
	UsesIPSets bool
	IPSetSum   uint64

	chains []*chain
	byName map[string]*chain // "inet filter input"
	hooks  map[Hook][]*chain // base chains by hook, in priority order
	// bridge are the bridge family's base chains, which see what crosses
	// a bridge (what arrives on one for this host too): not evaluated.
	bridge []*chain
	// what the rules test, to try only the interfaces and addresses that
	// can make a difference
	testsIif, testsDaddr bool
	// setsMarks: a rule sets a packet's or connection's mark
	setsMarks bool
}

// Tables is what a namespace's packet filter holds: chains, nftables
// sets and named objects, and the ipsets iptables rules match on.
type Tables struct {
	Chains  []Chain
	Sets    []Set
	Objects []Object
	IPSets  []IPSet
}

// NewRuleset compiles chains, sets and named objects for evaluation.
func NewRuleset(chains []Chain, sets []Set, objects ...Object) *Ruleset {
	return Compile(Tables{Chains: chains, Sets: sets, Objects: objects})
}

// Compile compiles a namespace's tables for evaluation. Expressions it
// does not understand are kept and make the rules holding them undecided.
func Compile(t Tables) *Ruleset {
	chains, sets, objects := t.Chains, t.Sets, t.Objects
	ipsets := map[uint16]*IPSet{}
	for i := range t.IPSets {
		ipsets[t.IPSets[i].Index] = &t.IPSets[i]
	}
	rs := &Ruleset{hooks: map[Hook][]*chain{}, byName: map[string]*chain{}}
	byName := rs.byName
	objByName := map[string]*Object{}
	for i := range objects {
		o := &objects[i]
		objByName[tableKey(o.Family, o.Table)+" "+o.Name] = o
	}
	setByName := map[string]*compiledSet{}
	for i := range sets {
		s := &sets[i]
		cs := compileSet(s)
		setByName[tableKey(s.Family, s.Table)+" "+s.Name] = cs
		setByName[tableKey(s.Family, s.Table)+fmt.Sprintf(" #%d", s.ID)] = cs
	}
	for i := range chains {
		c := &chain{Chain: &chains[i]}
		rs.chains = append(rs.chains, c)
		byName[tableKey(c.Family, c.Table)+" "+c.Name] = c
	}
	for _, c := range rs.chains {
		tk := tableKey(c.Family, c.Table)
		lookup := func(name string, id uint32) *compiledSet {
			if s := setByName[tk+" "+name]; s != nil {
				return s
			}
			return setByName[tk+fmt.Sprintf(" #%d", id)]
		}
		lookupObj := func(name string) *Object { return objByName[tk+" "+name] }
		for i := range c.Rules {
			for _, r := range compileSafely(&compiler{c: c, r: &c.Rules[i], lookupSet: lookup, lookupObj: lookupObj, ipsets: ipsets}) {
				if r.verdict == verdictJump || r.verdict == verdictGoto {
					r.target = byName[tk+" "+r.targetName]
					if r.target == nil {
						r.unknown = append(r.unknown, "jump to missing chain "+r.targetName)
					}
				}
				for _, t := range r.tests {
					rs.testsIif = rs.testsIif || t.field == fieldIif || t.field == fieldIifname
					rs.testsDaddr = rs.testsDaddr || t.field == fieldDaddr4 || t.field == fieldDaddr6
					for _, p := range t.parts {
						rs.testsIif = rs.testsIif || p.field == fieldIif || p.field == fieldIifname
						rs.testsDaddr = rs.testsDaddr || p.field == fieldDaddr4 || p.field == fieldDaddr6
					}
				}
				rs.setsMarks = rs.setsMarks || len(r.marks) > 0
				c.rules = append(c.rules, r)
			}
		}
		c.index()
		switch {
		case !c.Base:
		case c.Family == nftables.TableFamilyBridge:
			rs.bridge = append(rs.bridge, c)
			rs.testsIif = true
		case c.Hook == HookIngress || c.Hook == HookEgress:
			rs.hooks[c.Hook] = append(rs.hooks[c.Hook], c)
			rs.testsIif = true // a chain attached to a device tests the interface
		case c.Hook <= HookPostrouting &&
			(c.Family == nftables.TableFamilyINet || c.Family == nftables.TableFamilyIPv4 || c.Family == nftables.TableFamilyIPv6):
			rs.hooks[c.Hook] = append(rs.hooks[c.Hook], c)
		}
	}
	for h := range rs.hooks {
		slices.SortStableFunc(rs.hooks[h], func(a, b *chain) int { return cmp.Compare(a.Priority, b.Priority) })
	}
	return rs
}

// compileSafely compiles a rule; should the compiler fail on a rule the
// kernel accepted, the rule is undecided, and the rest of the ruleset,
// and every other namespace's, is still evaluated.
func compileSafely(cp *compiler) (out []*rule) {
	defer func() {
		if p := recover(); p != nil {
			u := &rule{handle: cp.r.Handle, verdict: verdictUnknown, unknown: []string{fmt.Sprintf("a rule portwarden failed to compile (%v)", p)}}
			u.text = renderRule(cp.c, u)
			out = []*rule{u}
		}
	}()
	return cp.compile()
}

// Empty reports whether the ruleset has no base chain a packet to a
// listener passes.
func (rs *Ruleset) Empty() bool { return rs == nil || len(rs.hooks) == 0 && len(rs.bridge) == 0 }

// chain is a Chain with its rules compiled, and indexed by the
// destination port they test.
type chain struct {
	*Chain
	rules []*rule
	// anyPort lists the rules (by index, in order) that may match any
	// destination port; byPort those that match only the ports listed.
	anyPort []int32
	byPort  map[uint16][]int32
}

// name is how nft lists the chain: "inet filter input".
func (c *chain) name() string {
	if c == nil {
		return RoutingChain
	}
	return FamilyName(c.Family) + " " + c.Table + " " + c.Name
}

// attached reports whether an ingress or egress chain is attached to the
// device named dev; other chains see every device's packets.
func (c *chain) attached(dev string) bool {
	if c.Hook != HookIngress && c.Hook != HookEgress {
		return true
	}
	for _, d := range c.Devices {
		if d == dev {
			return true
		}
	}
	return false
}

// appliesTo reports whether the chain sees packets of IP version v6.
func (c *chain) appliesTo(v6 bool) bool {
	switch c.Family {
	case nftables.TableFamilyIPv4:
		return !v6
	case nftables.TableFamilyIPv6:
		return v6
	}
	return true
}

// TableName is how nft names a table: "inet filter".
func TableName(f nftables.TableFamily, table string) string { return FamilyName(f) + " " + table }

func tableKey(f nftables.TableFamily, table string) string { return TableName(f, table) }

// FamilyName is how nft names a table family: "inet", "ip", "netdev", ….
func FamilyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyNetdev:
		return "netdev"
	case nftables.TableFamilyBridge:
		return "bridge"
	case nftables.TableFamilyARP:
		return "arp"
	}
	return "inet"
}
