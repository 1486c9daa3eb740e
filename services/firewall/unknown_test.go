//go:build linux

package firewall

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/portwarden/portwarden/sockets"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Cases from the review of the evaluator: each is a place where it once
// decided instead of saying unknown, or invented what it did not know.

func acceptChain(family nftables.TableFamily, hook Hook, rules ...Rule) Chain {
	return Chain{Family: family, Table: "t", Name: "c", Base: true, Hook: hook, Type: nftables.ChainTypeFilter, Rules: rules}
}

func dportRule(port uint16, v expr.VerdictKind) Rule {
	return Rule{Handle: uint64(port), Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2, DestRegister: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{byte(port >> 8), byte(port)}},
		&expr.Verdict{Kind: v},
	}}
}

var (
	lo   = Interface{Name: "lo", Index: 1, Loopback: true, Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8")}}
	eth0 = Interface{Name: "eth0", Index: 2, Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.1/24")},
		Routes: []Route{{Dst: netip.MustParsePrefix("0.0.0.0/0"), Table: 254}}}
)

// A namespace with no link but loopback receives nothing from outside:
// no invented eth0 makes its wildcard listener public.
func TestNoLinkNoOutside(t *testing.T) {
	rs := NewRuleset([]Chain{acceptChain(nftables.TableFamilyINet, HookInput, dportRule(22, expr.VerdictAccept))}, nil)
	d := rs.Decide(NewScope([]Interface{lo}, nil), Listener{Proto: sockets.TCP, Addr: netip.IPv4Unspecified(), Port: 22})
	if d.Reach != ReachHost {
		t.Errorf("reach %s, want host", d.Reach)
	}
}

// A bridge-family chain sees what arrives through a bridge: undecided.
func TestBridgeChainIsUnknown(t *testing.T) {
	bridge := eth0
	bridge.Name, bridge.Bridge = "br0", true
	c := acceptChain(nftables.TableFamilyBridge, HookInput, dportRule(22, expr.VerdictDrop))
	rs := NewRuleset([]Chain{c}, nil)
	d := rs.Decide(NewScope([]Interface{lo, bridge}, nil), Listener{Proto: sockets.TCP, Addr: netip.IPv4Unspecified(), Port: 22})
	if d.Reach != ReachUnknown || d.Why == "" {
		t.Errorf("through a bridge with a bridge-family chain: reach %s (%s), want unknown", d.Reach, d.Why)
	}
	d = rs.Decide(NewScope([]Interface{lo, eth0}, nil), Listener{Proto: sockets.TCP, Addr: netip.IPv4Unspecified(), Port: 22})
	if d.Reach != ReachPublic {
		t.Errorf("no bridge: reach %s, want public", d.Reach)
	}
}

// More than 16 prefixes get through: Sources holds the first 16 and says
// it was cut.
func TestSourcesCutIsSaid(t *testing.T) {
	var rules []Rule
	for i := range 20 {
		rules = append(rules, Rule{Handle: uint64(i + 1), Exprs: []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.NFPROTO_IPV4}},
			&expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4, DestRegister: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: netip.MustParseAddr(fmt.Sprintf("203.0.113.%d", 2*i+1)).AsSlice()},
			&expr.Verdict{Kind: expr.VerdictAccept},
		}})
	}
	c := acceptChain(nftables.TableFamilyINet, HookInput, rules...)
	policy := true
	c.Drop = policy
	rs := NewRuleset([]Chain{c}, nil)
	d := rs.Decide(NewScope([]Interface{lo, eth0}, nil), Listener{Proto: sockets.TCP, Addr: netip.MustParseAddr("198.51.100.1"), Port: 22})
	if d.Reach != ReachPublic || len(d.Sources) != maxSources || !d.SourcesCut {
		t.Errorf("reach %s, %d sources, cut %v; want public, %d, cut", d.Reach, len(d.Sources), d.SourcesCut, maxSources)
	}
}

// A published container's listener is reached only through a DNAT: what
// the outer prerouting accepts untranslated stays on the host's port.
func TestForwardedNeedsTheDNAT(t *testing.T) {
	bridge := Interface{Name: "docker0", Index: 3, Bridge: true, Addrs: []netip.Prefix{netip.MustParsePrefix("172.17.0.1/16")}}
	outer := NewRuleset([]Chain{acceptChain(nftables.TableFamilyINet, HookPrerouting, dportRule(8080, expr.VerdictAccept))}, nil)
	d := DecideForwarded(outer, NewScope([]Interface{lo, eth0, bridge}, nil), sockets.TCP,
		netip.MustParseAddrPort("0.0.0.0:8080"), netip.MustParseAddrPort("172.17.0.2:80"), nil, nil)
	if d.Reach == ReachPublic {
		t.Errorf("no DNAT: reach %s, want no public reach", d.Reach)
	}
}

// Where one interface stands for all (no rule tests the interface or the
// destination), an interface without addresses does not hide the others.
func TestAnyInterfaceStandsForAll(t *testing.T) {
	bare := Interface{Name: "eth1", Index: 2}
	addressed := eth0
	addressed.Index = 3
	rs := NewRuleset(nil, nil)
	d := rs.Decide(NewScope([]Interface{lo, bare, addressed}, nil), Listener{Proto: sockets.TCP, Addr: netip.IPv4Unspecified(), Port: 22})
	if d.Reach != ReachPublic {
		t.Errorf("reach %s, want public", d.Reach)
	}
}
