//go:build linux

package firewall

import (
	"net/netip"
	"testing"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/portwarden/portwarden/sockets"
	"golang.org/x/sys/unix"
)

// A named verdict map with a catch-all element ("*", the element without
// a key) once panicked the compiler, taking the whole snapshot down: the
// catch-all decides the ports no other element holds, and a port it holds
// is decided by its own element.
func TestCatchAllVerdictMap(t *testing.T) {
	portmap := Set{Family: nftables.TableFamilyINet, Table: "t", Name: "portmap", Map: true, Elements: []nftables.SetElement{
		{Key: []byte{0x23, 0x29}, VerdictData: &expr.Verdict{Kind: expr.VerdictAccept}}, // 9001
		{VerdictData: &expr.Verdict{Kind: expr.VerdictDrop}},                            // *
	}}
	vmap := Rule{Handle: 7, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_TCP}},
		&expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2, DestRegister: 1},
		&expr.Lookup{SourceRegister: 1, SetName: "portmap", IsDestRegSet: true, DestRegister: 0},
	}}
	loAccept := Rule{Handle: 6, Exprs: []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIF, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{1, 0, 0, 0}},
		&expr.Verdict{Kind: expr.VerdictAccept},
	}}
	rs := NewRuleset([]Chain{acceptChain(nftables.TableFamilyINet, HookInput, loAccept, vmap)}, []Set{portmap})
	sc := NewScope([]Interface{lo, eth0}, nil)
	for port, want := range map[uint16]Reach{9001: ReachPublic, 9002: ReachHost} {
		d := rs.Decide(sc, Listener{Proto: sockets.TCP, Addr: netip.IPv4Unspecified(), Port: port})
		if d.Reach != want {
			t.Errorf("port %d: reach %s (%s), want %s", port, d.Reach, d.RuleRef(), want)
		}
	}
	d := rs.Decide(sc, Listener{Proto: sockets.TCP, Addr: netip.IPv4Unspecified(), Port: 9002})
	if d.RuleRef() != "inet t c handle 7: tcp dport vmap @portmap drop" {
		t.Errorf("decided by %q, want the catch-all of the vmap", d.RuleRef())
	}
}

// Elements whose keys are not of the set's length (the kernel keeps none
// such, but a reader may hand them over) are left out, not read past.
func TestElementsOfAnotherLength(t *testing.T) {
	s := compileSet(&Set{Name: "x", Elements: []nftables.SetElement{{Key: []byte{0, 22}}, {Key: []byte{1}}, {Key: []byte{0, 80, 1}}}})
	if len(s.ranges) != 1 || s.keyLen != 2 {
		t.Errorf("ranges %v, key length %d; want the one 2-byte key", s.ranges, s.keyLen)
	}
}

// Adjacent intervals (198.51.100.16/28 and .32/28) share no end element:
// the second's start ends the first, as in the kernel's lookup.
func TestAdjacentIntervals(t *testing.T) {
	s := compileSet(&Set{Name: "x", Interval: true, Elements: []nftables.SetElement{
		{Key: []byte{198, 51, 100, 48}, IntervalEnd: true},
		{Key: []byte{198, 51, 100, 32}, VerdictData: &expr.Verdict{Kind: expr.VerdictDrop}},
		{Key: []byte{198, 51, 100, 16}, VerdictData: &expr.Verdict{Kind: expr.VerdictAccept}},
		{Key: []byte{0, 0, 0, 0}, IntervalEnd: true},
	}})
	for key, want := range map[[4]byte]expr.VerdictKind{{198, 51, 100, 20}: expr.VerdictAccept, {198, 51, 100, 39}: expr.VerdictDrop} {
		r, ok := s.find(key[:])
		if !ok || r.verdict.Kind != want {
			t.Errorf("%v: found %v (%v), want verdict %v", key, r, ok, want)
		}
	}
	if _, ok := s.find([]byte{198, 51, 100, 48}); ok {
		t.Errorf("198.51.100.48 is past the last interval, but found")
	}
}
