package lifeline

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/sockets/sockettest"
)

// TestReadInANamespace builds a namespace whose routes, next hops and
// resolvers are known — a default gateway, a multipath route, a route in
// another table, a nexthop object — and checks every one is a lifeline,
// and that an unrelated documentation peer is not.
func TestReadInANamespace(t *testing.T) {
	ns := sockettest.NamespaceForTest(t, "pw-life")
	for _, args := range [][]string{
		{"link", "add", "d0", "type", "veth", "peer", "name", "d0p"}, {"link", "add", "d1", "type", "veth", "peer", "name", "d1p"},
		{"link", "set", "d0p", "up"}, {"link", "set", "d1p", "up"},
		{"link", "set", "d0", "up"}, {"link", "set", "d1", "up"},
		{"addr", "add", "10.9.0.2/24", "dev", "d0"}, {"addr", "add", "10.9.1.2/24", "dev", "d1"},
		{"-6", "addr", "add", "2001:db8:9::2/64", "dev", "d0", "nodad"},
		{"route", "add", "default", "via", "10.9.0.1"},
		{"route", "add", "10.20.0.0/16", "nexthop", "via", "10.9.0.5", "nexthop", "via", "10.9.1.5"},
		{"route", "add", "10.30.0.0/16", "via", "10.9.1.9", "table", "100"},
		{"nexthop", "add", "id", "7", "via", "10.9.1.77", "dev", "d1"},
		{"-6", "route", "add", "default", "via", "2001:db8:9::1"},
	} {
		if err := ns.IP(args...); err != nil {
			t.Fatal(err)
		}
	}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("# comment\nnameserver 10.9.0.53\nnameserver 2001:db8:9::53\nsearch example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var set *Set
	if err := ns.Do(func() error { set = Read(resolv); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(set.Gaps) > 0 {
		t.Errorf("gaps: %v", set.Gaps)
	}
	for _, c := range []struct {
		peer, want string
	}{
		{"10.9.0.1/32", "default gateway via d0"},
		{"10.9.0.0/24", "default gateway"},
		{"10.9.0.5/32", "next hop to 10.20.0.0/16"},
		{"10.9.1.5/32", "next hop to 10.20.0.0/16 via d1"},
		{"10.9.1.9/32", "routing table 100"},
		{"10.9.1.77/32", "ip nexthop"},
		{"2001:db8:9::1/128", "default gateway"},
		{"10.9.0.53/32", "DNS resolver"},
		{"2001:db8:9::53/128", "DNS resolver"},
		{"10.9.0.2/32", "own addresses (d0)"},
		{"127.0.0.1/32", "loopback"},
		{"169.254.169.254/32", "link-local"},
		{"fe80::1/128", "neighbour discovery"},
		{"0.0.0.0/0", "every IPv4 address"},
		{"::/0", "every IPv6 address"},
	} {
		hits := set.Hit(netip.MustParsePrefix(c.peer))
		if !strings.Contains(strings.Join(hits, "; "), c.want) {
			t.Errorf("Hit(%s) = %q, want it to say %q", c.peer, hits, c.want)
		}
	}
	if hits := set.Hit(netip.MustParsePrefix("198.51.100.7/32")); len(hits) > 0 {
		t.Errorf("an unrelated peer hits %q", hits)
	}
}
