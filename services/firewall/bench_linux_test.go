package firewall_test

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/portwarden/portwarden/services/firewall/kernel"

	"golang.org/x/sys/unix"

	"github.com/portwarden/portwarden/services/firewall"
)

// benchRuleset writes a 500-rule ruleset of the shapes real ones have: a
// default-drop input chain, conntrack and loopback accepts, per-source and
// per-interface accepts, port sets, and user chains jumped into.
func benchRuleset() string {
	var b strings.Builder
	b.WriteString("table inet filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n")
	b.WriteString("  ct state established,related accept\n  iif lo accept\n  jump services\n")
	n := 3
	for i := 0; n < 250; i, n = i+1, n+1 {
		fmt.Fprintf(&b, "  ip saddr 10.%d.%d.0/24 tcp dport %d accept\n", i/250, i%250, 20000+i)
	}
	b.WriteString(" }\n chain services {\n")
	for i := 0; n < 450; i, n = i+1, n+1 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "  iifname \"eth1\" tcp dport %d accept\n", 10000+i)
		case 1:
			fmt.Fprintf(&b, "  tcp dport { %d, %d, %d } counter accept\n", 30000+i, 31000+i, 32000+i)
		case 2:
			fmt.Fprintf(&b, "  udp dport %d-%d accept\n", 40000+10*i, 40000+10*i+5)
		default:
			fmt.Fprintf(&b, "  ip6 saddr 2001:db8:%x::/48 tcp dport %d reject\n", i, 10000+i)
		}
	}
	b.WriteString(" }\n}\ntable ip extra {\n chain input {\n  type filter hook input priority 10; policy accept;\n")
	for ; n < 500; n++ {
		fmt.Fprintf(&b, "  tcp dport %d drop\n", 50000+n)
	}
	b.WriteString(" }\n}\n")
	return b.String()
}

// benchListeners are 1,000 listeners, wildcard and specific, TCP and UDP.
func benchListeners() []firewall.Listener {
	out := make([]firewall.Listener, 1000)
	for i := range out {
		l := firewall.Listener{Proto: unix.IPPROTO_TCP, Addr: netip.IPv6Unspecified(), Port: uint16(10000 + i)}
		switch i % 4 {
		case 1:
			l.Addr = netip.IPv4Unspecified()
		case 2:
			l.Proto = unix.IPPROTO_UDP
		case 3:
			l.Addr = netip.MustParseAddr("198.51.100.1")
		}
		out[i] = l
	}
	return out
}

// benchNamespace makes a network namespace with two links (veth pairs
// whose other ends stay inside), a default route, and the bench
// ruleset, for reading through netlink.
func benchNamespace(b *testing.B) string {
	if os.Geteuid() != 0 {
		b.Skip("needs root for a network namespace")
	}
	ns := fmt.Sprintf("pw-fwbench-%d", os.Getpid()%100000)
	steps := [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p"},
		{"-n", ns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p"},
		{"-n", ns, "link", "set", "eth0p", "up"},
		{"-n", ns, "link", "set", "eth1p", "up"},
		{"-n", ns, "addr", "add", "198.51.100.1/24", "dev", "eth0"},
		{"-n", ns, "addr", "add", "10.0.0.1/8", "dev", "eth1"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "link", "set", "eth1", "up"},
		{"-n", ns, "route", "add", "default", "via", "198.51.100.254"},
	}
	b.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	for _, s := range steps {
		if out, err := exec.Command("ip", s...).CombinedOutput(); err != nil {
			b.Fatalf("ip %v: %v %s", s, err, out)
		}
	}
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(benchRuleset())
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("nft: %v %s", err, out)
	}
	return "/run/netns/" + ns
}

// BenchmarkReadAndDecide reads a 500-rule ruleset and the interfaces
// through netlink and decides 1,000 listeners: what a refresh costs when
// the ruleset changed.
func BenchmarkReadAndDecide(b *testing.B) {
	path := benchNamespace(b)
	listeners := benchListeners()
	for b.Loop() {
		rs, sc := readNamespace(b, path)
		for _, l := range listeners {
			rs.Decide(sc, l)
		}
	}
}

// readNamespace reads a namespace's ruleset, interfaces and routing, as a
// refresh does.
func readNamespace(b *testing.B, path string) (*firewall.Ruleset, *firewall.Scope) {
	rs, err := kernel.Read(path)
	if err != nil {
		b.Fatal(err)
	}
	ifs, routing, err := kernel.ReadNetwork(path)
	if err != nil {
		b.Fatal(err)
	}
	return rs, firewall.NewScope(ifs, nil).WithRouting(routing)
}

// BenchmarkDecide decides 1,000 listeners against a ruleset already read.
func BenchmarkDecide(b *testing.B) {
	rs, sc := readNamespace(b, benchNamespace(b))
	listeners := benchListeners()
	for b.Loop() {
		for _, l := range listeners {
			rs.Decide(sc, l)
		}
	}
}

// BenchmarkGeneration is what a refresh costs when the ruleset has not
// changed: one netlink round trip for its generation.
func BenchmarkGeneration(b *testing.B) {
	path := benchNamespace(b)
	for b.Loop() {
		if _, err := kernel.Generation(path); err != nil {
			b.Fatal(err)
		}
	}
}
