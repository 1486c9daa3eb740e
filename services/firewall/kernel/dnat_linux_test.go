package kernel

import (
	"net/netip"
	"os/exec"
	"testing"

	"github.com/portwarden/portwarden/sockets"
	"github.com/portwarden/portwarden/sockets/sockettest"

	"github.com/google/nftables/expr"
)

// TestReadDNAT writes port forwards with iptables (the nft backend) in a
// network namespace of the test's own and reads them back.
func TestReadDNAT(t *testing.T) {
	if _, err := exec.LookPath("iptables"); err != nil {
		t.Skip("iptables is not installed")
	}
	ns := sockettest.NamespaceForTest(t, "pwfw")
	for _, args := range [][]string{
		{"-t", "nat", "-N", "FWD"},
		{"-t", "nat", "-A", "PREROUTING", "-j", "FWD"},
		{"-t", "nat", "-A", "FWD", "-p", "tcp", "--dport", "18099", "-j", "DNAT", "--to-destination", "198.51.100.130:80"},
		{"-t", "nat", "-A", "FWD", "-d", "198.51.100.1", "-p", "udp", "--dport", "5353", "-j", "DNAT", "--to-destination", "198.51.100.131"},
		{"-t", "nat", "-A", "FWD", "-p", "tcp", "--dport", "2222", "-j", "ACCEPT"},
	} {
		if err := ns.Run("iptables", args...); err != nil {
			t.Fatal(err)
		}
	}
	rules, err := ReadDNAT(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	want := []DNAT{
		{Proto: sockets.TCP, Port: 18099, To: netip.MustParseAddrPort("198.51.100.130:80")},
		{Proto: sockets.UDP, Dest: netip.MustParseAddr("198.51.100.1"), Port: 5353, To: netip.AddrPortFrom(netip.MustParseAddr("198.51.100.131"), 0)},
	}
	if len(rules) != len(want) {
		t.Fatalf("read %+v, want %+v", rules, want)
	}
	for i, r := range rules {
		r.Rule = ""
		if r != want[i] {
			t.Errorf("rule %d: %+v, want %+v", i, r, want[i])
		}
	}
}

// TestParseNativeDNAT: a rule nft writes itself ("tcp dport 8080 dnat to
// 198.51.100.130:80") uses the native nat expression, not xtables'.
func TestParseNativeDNAT(t *testing.T) {
	exprs := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6}},
		&expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2, DestRegister: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x1f, 0x90}},
		&expr.Counter{},
		&expr.Immediate{Register: 1, Data: []byte{198, 51, 100, 130}},
		&expr.Immediate{Register: 2, Data: []byte{0, 80}},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: 2, RegAddrMin: 1, RegProtoMin: 2},
	}
	d, ok := parseDNAT(exprs)
	if want := (DNAT{Proto: sockets.TCP, Port: 8080, To: netip.MustParseAddrPort("198.51.100.130:80")}); !ok || d != want {
		t.Errorf("parseDNAT = %+v, %v; want %+v", d, ok, want)
	}
	// A masquerade, or a dnat without a port match, is no port forward.
	if _, ok := parseDNAT([]expr.Any{&expr.Masq{}}); ok {
		t.Error("a masquerade read as a port forward")
	}
	if _, ok := parseDNAT(exprs[5:]); ok {
		t.Error("a dnat matching no port read as a port forward")
	}
}
